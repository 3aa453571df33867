// The privacy projection through the bindings: which fields of a user's
// state each viewer class gets under each setting.

import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import loadPresenceCore from '../../wasm/presence_core_node.mjs';

let core;
before(async () => {
  core = await loadPresenceCore();
});

const online = {
  userId: 'bob', status: 'online', device: 'mobile',
  activity: { type: 'typing', conversationId: 'c-1' },
};
const offline = { userId: 'bob', status: 'offline', lastSeen: 1_700_000_000_000 };

function project(state, settings, viewer) {
  const out = core.projectView(JSON.stringify(state), JSON.stringify(settings), viewer);
  assert.notEqual(out, '', 'projectView rejected valid input');
  return JSON.parse(out);
}

test('default settings => stranger sees status and device, contact also activity', () => {
  assert.deepEqual(project(online, {}, 'other'),
    { userId: 'bob', status: 'online', device: 'mobile' });
  assert.deepEqual(project(online, {}, 'contact'), online);
  assert.deepEqual(project(online, {}, 'self'), online);
});

test('offline user => last seen only for admitted viewers', () => {
  assert.deepEqual(project(offline, {}, 'other'), { userId: 'bob', status: 'offline' });
  assert.deepEqual(project(offline, {}, 'contact'), offline);
  assert.deepEqual(project(offline, { showLastSeen: 'everyone' }, 'other'), offline);
  assert.deepEqual(project(offline, { showLastSeen: 'nobody' }, 'contact'),
    { userId: 'bob', status: 'offline' });
});

test('hidden status => userId alone, for every field', () => {
  const hidden = { showOnlineStatus: 'nobody', showLastSeen: 'everyone', showActivity: 'everyone' };
  assert.deepEqual(project(online, hidden, 'contact'), { userId: 'bob' });
  assert.deepEqual(project(offline, hidden, 'other'), { userId: 'bob' });
  assert.deepEqual(project(online, hidden, 'self'), online, 'a user always sees themself');
  assert.deepEqual(project(online, { showOnlineStatus: 'contacts' }, 'other'), { userId: 'bob' });
});

test('never seen user => userId alone', () => {
  assert.deepEqual(project({ userId: 'bob' }, {}, 'self'), { userId: 'bob' });
});

test('activity => only while online or away and admitted', () => {
  assert.deepEqual(project(online, { showActivity: 'everyone' }, 'other'), online);
  assert.deepEqual(project(online, { showActivity: 'nobody' }, 'contact'),
    { userId: 'bob', status: 'online', device: 'mobile' });
  const away = { ...online, status: 'away', activity: { type: 'busy', reason: 'meeting' } };
  assert.deepEqual(project(away, {}, 'contact'), away);
});

test('viewer classes => self, contact, other', () => {
  assert.equal(core.classifyViewer('bob', 'bob', false), 'self');
  assert.equal(core.classifyViewer('bob', 'bob', true), 'self');
  assert.equal(core.classifyViewer('amy', 'bob', true), 'contact');
  assert.equal(core.classifyViewer('amy', 'bob', false), 'other');
  assert.equal(core.classifyViewer(1, 'bob', false), '');
});

test('invalid input => "" from projectView', () => {
  const state = JSON.stringify(online);
  assert.equal(core.projectView(state, '{}', 'stranger'), '');
  assert.equal(core.projectView(state, '{"showLastSeen":"friends"}', 'other'), '');
  assert.equal(core.projectView(state, '{"showLastSeen":1}', 'other'), '');
  assert.equal(core.projectView(state, 'not json', 'other'), '');
  assert.equal(core.projectView(state, '[]', 'other'), '');
  assert.equal(core.projectView('garbage', '{}', 'other'), '');
  assert.equal(core.projectView('{"status":"online"}', '{}', 'other'), '', 'userId is required');
  assert.equal(core.projectView('{"userId":"bad id"}', '{}', 'other'), '');
  assert.equal(core.projectView('{"userId":"a"},{"userId":"b"}', '{}', 'other'), '', 'one state only');
  assert.equal(core.projectView('{"userId":"a","status":"dancing"}', '{}', 'other'), '');
  assert.equal(core.projectView(null, '{}', 'other'), '');
  assert.equal(core.projectView(state, {}, 'other'), '');
});

test('ids => validity as the protocol defines it', () => {
  assert.equal(core.isValidId('alice.B_2@x-y'), true);
  assert.equal(core.isValidId('a'.repeat(128)), true);
  assert.equal(core.isValidId('a'.repeat(129)), false);
  assert.equal(core.isValidId(''), false);
  assert.equal(core.isValidId('has space'), false);
  assert.equal(core.isValidId('é'), false);
  assert.equal(core.isValidId(12), false);
});
