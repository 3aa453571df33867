// Last seen through the bindings: buckets, counts, the moment the text next
// changes, the seed's English text and the coarse privacy-friendly buckets.

import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import loadPresenceCore from '../../wasm/presence_core_node.mjs';

let core;
before(async () => {
  core = await loadPresenceCore();
});

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2024, 0, 15, 12, 0, 0);

test('unknown last seen => never, no next change', () => {
  for (const unknown of [-1, -5, NaN]) {
    assert.deepEqual({ ...core.classifyLastSeen(unknown, NOW) },
      { bucket: 'never', count: 0, epochMs: 0, nextChangeMs: -1 });
    assert.equal(core.formatLastSeen(unknown, NOW), 'Never');
  }
});

test('each bucket => count, next change and text', () => {
  const cases = [
    // [age, bucket, count, next change after last seen, text]
    [0, 'just_now', 0, MIN, 'Just now'],
    [30_000, 'just_now', 0, MIN, 'Just now'],
    [MIN - 1, 'just_now', 0, MIN, 'Just now'],
    [MIN, 'minutes', 1, 2 * MIN, '1m ago'],
    [5 * MIN + 10_000, 'minutes', 5, 6 * MIN, '5m ago'],
    [HOUR - 1, 'minutes', 59, HOUR, '59m ago'],
    [HOUR, 'hours', 1, 2 * HOUR, '1h ago'],
    [3 * HOUR, 'hours', 3, 4 * HOUR, '3h ago'],
    [DAY - 1, 'hours', 23, DAY, '23h ago'],
    [DAY, 'days', 1, 2 * DAY, '1d ago'],
    [2 * DAY + HOUR, 'days', 2, 3 * DAY, '2d ago'],
    [7 * DAY - 1, 'days', 6, 7 * DAY, '6d ago'],
  ];
  for (const [age, bucket, count, next, text] of cases) {
    const lastSeen = NOW - age;
    assert.deepEqual({ ...core.classifyLastSeen(lastSeen, NOW) },
      { bucket, count, epochMs: lastSeen, nextChangeMs: lastSeen + next }, `age ${age}`);
    assert.equal(core.formatLastSeen(lastSeen, NOW), text, `age ${age}`);
  }
});

test('a week or more => the date, which never changes', () => {
  const lastSeen = Date.UTC(2024, 0, 5, 23, 59, 0);
  assert.deepEqual({ ...core.classifyLastSeen(lastSeen, NOW) },
    { bucket: 'date', count: 0, epochMs: lastSeen, nextChangeMs: -1 });
  assert.equal(core.formatLastSeen(lastSeen, NOW), '1/5/2024');
  assert.equal(core.formatLastSeen(NOW - 7 * DAY, NOW), '1/8/2024');
  assert.equal(core.formatLastSeen(0, NOW), '1/1/1970');
});

test('clock skew: last seen in the future => just now until a minute past it', () => {
  const lastSeen = NOW + 10_000;
  assert.deepEqual({ ...core.classifyLastSeen(lastSeen, NOW) },
    { bucket: 'just_now', count: 0, epochMs: lastSeen, nextChangeMs: lastSeen + MIN });
});

test('re-render at nextChangeMs => the text has moved on', () => {
  let lastSeen = NOW - 59 * MIN - 30_000;
  const first = core.classifyLastSeen(lastSeen, NOW);
  assert.equal(first.count, 59);
  const later = core.classifyLastSeen(lastSeen, first.nextChangeMs);
  assert.deepEqual([later.bucket, later.count], ['hours', 1]);
  const justBefore = core.classifyLastSeen(lastSeen, first.nextChangeMs - 1);
  assert.deepEqual([justBefore.bucket, justBefore.count], ['minutes', 59]);
});

test('times beyond 2^53 => clamped, still an answer', () => {
  const far = core.classifyLastSeen(1, Number.MAX_VALUE);
  assert.equal(far.bucket, 'date');
  assert.equal(core.formatLastSeen(Infinity, NOW), core.formatLastSeen(Number.MAX_SAFE_INTEGER, NOW));
});

test('approximate last seen => coarse buckets, "" when unknown', () => {
  assert.equal(core.approximateLastSeen(NOW - DAY, NOW), 'recently');
  assert.equal(core.approximateLastSeen(NOW - 3 * DAY + 1, NOW), 'recently');
  assert.equal(core.approximateLastSeen(NOW - 3 * DAY, NOW), 'within a week');
  assert.equal(core.approximateLastSeen(NOW - 20 * DAY, NOW), 'within a month');
  assert.equal(core.approximateLastSeen(NOW - 30 * DAY, NOW), 'a long time ago');
  assert.equal(core.approximateLastSeen(-1, NOW), '');
});
