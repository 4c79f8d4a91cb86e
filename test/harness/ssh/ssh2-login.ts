// A second SSH client for the wallet login, independent of OpenSSH: the ssh2 library speaks
// keyboard-interactive itself, so the test sees the server's prompts exactly as sent (name,
// instructions, prompt text) and answers them in code.
import { Client } from 'ssh2';

export interface Ssh2Login {
  host: string;
  port: number;
  user: string;
  command: string;
  /** The answer to one keyboard-interactive round: its instructions and prompt texts as sent. */
  answer(round: { instructions: string; prompts: string[] }): Promise<string> | string;
  timeoutMs?: number;
}

export interface Ssh2Outcome {
  /** false: the server refused the login (ssh2's "All configured authentication methods failed"). */
  authenticated: boolean;
  stdout: string;
  exitCode?: number;
  rounds: { instructions: string; prompts: string[] }[];
}

export function ssh2WalletLogin(login: Ssh2Login): Promise<Ssh2Outcome> {
  const rounds: Ssh2Outcome['rounds'] = [];
  return new Promise((resolve, reject) => {
    const client = new Client();
    const timer = setTimeout(() => {
      client.end();
      reject(new Error(`ssh2 login to ${login.host} did not finish in time`));
    }, login.timeoutMs ?? 90_000);
    const finish = (outcome: Omit<Ssh2Outcome, 'rounds'>) => {
      clearTimeout(timer);
      client.end();
      resolve({ ...outcome, rounds });
    };
    client.on('keyboard-interactive', (_name, instructions, _lang, prompts, respond) => {
      const round = { instructions, prompts: prompts.map((p) => p.prompt) };
      rounds.push(round);
      // The first round carries the question; later rounds (if any) are answered with nothing.
      if (rounds.length > 1 || prompts.length === 0) return respond(prompts.map(() => ''));
      void Promise.resolve(login.answer(round)).then(
        (answer) => respond([answer]),
        (error: unknown) => {
          clearTimeout(timer);
          client.end();
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    });
    client.on('ready', () => {
      client.exec(login.command, (error, channel) => {
        if (error) return finish({ authenticated: true, stdout: '' });
        let stdout = '';
        channel.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        channel.on('close', (code: number | undefined) =>
          finish({ authenticated: true, stdout, exitCode: code }),
        );
      });
    });
    client.on('error', (error: Error & { level?: string }) => {
      if (error.level === 'client-authentication') return finish({ authenticated: false, stdout: '' });
      clearTimeout(timer);
      reject(error);
    });
    client.connect({
      host: login.host,
      port: login.port,
      username: login.user,
      tryKeyboard: true,
      readyTimeout: 60_000,
      // Only the wallet login: no agent, no keys, no password.
      authHandler: ['keyboard-interactive'],
    });
  });
}
