import { describe, expect, it } from '@jest/globals';
import { agreedAnswer, quorumOf, type Answer } from './confirmed-read.js';

const say = (key: string): Answer => ({ key });
const fail: Answer = { error: new Error('timeout') };

describe('quorumOf: a majority of the endpoints', () => {
  it.each([
    [1, 1],
    [2, 2],
    [3, 2],
    [4, 3],
    [5, 3],
    [8, 5],
  ])('%i endpoints need %i alike', (endpoints, quorum) => expect(quorumOf(endpoints)).toBe(quorum));
});

describe('agreedAnswer: the answer a quorum gave, or why there is none', () => {
  it.each<[string, Answer[], { key: string; count: number } | RegExp]>([
    ['the only endpoint', [say('a')], { key: 'a', count: 1 }],
    ['the only endpoint failing', [fail], /no endpoint answered, 1 could not answer; 1 of 1/],
    ['two alike', [say('a'), say('a')], { key: 'a', count: 2 }],
    ['one liar of two', [say('lie'), say('a')], /2 different answers came back \(1 \/ 1\); 2 of 2/],
    ['one of two silent', [say('a'), fail], /1 answered alike, 1 could not answer; 2 of 2/],
    ['one liar of three', [say('lie'), say('a'), say('a')], { key: 'a', count: 2 }],
    [
      'one liar and one silent of three',
      [say('lie'), say('a'), fail],
      /2 different answers .*1 could not answer; 2 of 3/,
    ],
    [
      'two liars telling the same lie of five',
      [say('lie'), say('lie'), say('a'), say('a'), say('a')],
      { key: 'a', count: 3 },
    ],
    [
      'three different answers of three',
      [say('x'), say('y'), say('z')],
      /3 different answers came back \(1 \/ 1 \/ 1\)/,
    ],
  ])('%s', (_case, answers, expected) => {
    const agreed = agreedAnswer(answers, quorumOf(answers.length));
    if (expected instanceof RegExp) expect('disagreement' in agreed && agreed.disagreement).toMatch(expected);
    else expect(agreed).toEqual(expected);
  });
});
