import type { FastifyInstance } from 'fastify';
import type { Face, FaceContext } from '../face.js';
import { AdminHolder } from './admin-holder.js';
import { registerBackupRoutes } from './backup.js';
import { AdminAudit } from './audit.js';
import { ADMIN_SESSION_TTL_MS, registerAuth, type AdminSession } from './auth.js';
import { ChainClients } from './chain-clients.js';
import { registerHostnameRoutes } from './hostname.js';
import { ADMIN_PAGES, adminPage, loginPage } from './markup.js';
import { registerNetworkRoutes } from './network.js';
import { registerOverviewRoutes } from './overview.js';
import { registerSubscriptionRoutes } from './subscriptions.js';
import { registerSystemRoutes } from './system.js';
import { registerVmRoutes } from './vms.js';
import { registerWalletRequestRoutes } from './wallet-requests.js';
import { registerWalletRoutes } from './wallet.js';

async function register(app: FastifyInstance, context: FaceContext): Promise<void> {
  const sessions = context.sessions<AdminSession>({
    cookieName: 'bh_admin',
    // INTEROP §2: 1 h, however active; idle for as long, so the absolute limit is the one that counts.
    absoluteTtlMs: ADMIN_SESSION_TTL_MS,
    idleTtlMs: ADMIN_SESSION_TTL_MS,
  });
  const clients = new ChainClients();
  const holder = new AdminHolder(clients, context.now);
  const audit = new AdminAudit(context.kube, context.log);

  const requireAdmin = registerAuth(app, context, sessions, holder);
  registerOverviewRoutes(app, context, requireAdmin, clients);
  registerVmRoutes(app, context, sessions, requireAdmin, audit);
  registerSubscriptionRoutes(app, context, requireAdmin);
  registerWalletRoutes(app, context, sessions, requireAdmin, clients);
  registerWalletRequestRoutes(app, context, sessions, requireAdmin, audit);
  registerNetworkRoutes(app, context, sessions, requireAdmin, audit);
  registerSystemRoutes(app, context, requireAdmin);
  registerHostnameRoutes(app, context, sessions, requireAdmin, audit);
  registerBackupRoutes(app, context, sessions, requireAdmin, audit);

  // Signing a login message needs no chain access: the page talks to this server only.
  app.get('/login', async (_request, reply) =>
    context.sendPage(reply, {
      title: 'Sign in — BlockHost admin',
      heading: 'Admin',
      scripts: ['admin'],
      meta: { page: 'login' },
      body: loginPage(),
    }),
  );

  for (const page of ADMIN_PAGES)
    app.get(page.path, async (request, reply) => {
      const session = sessions.current(request);
      // Pages are shells; their data comes from /api/*, which checks the NFT holder on every call.
      if (!session) return reply.redirect(`${context.prefix}/login`);
      return context.sendPage(reply, {
        title: `${page.title} — BlockHost admin`,
        heading: 'Admin',
        scripts: ['admin'],
        meta: { page: page.id, csrf: session.csrfToken },
        body: adminPage(context.prefix, page.id, session.data.wallet),
      });
    });
}

/** The admin dashboard: wallet challenge login gated on the admin credential NFT, and its pages. */
export const adminFace: Face = {
  name: 'admin',
  prefix: (prefixes) => prefixes.admin,
  entries: { admin: 'admin/page/main.ts' },
  register,
};
