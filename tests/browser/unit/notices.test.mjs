// The bell's count (web-assets/components/notice-count.js).
// Run: node --test tests/browser/unit/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readSeenFrom, unreadCount } from '../../../web-assets/components/notice-count.js';

function storage(values) {
  return { getItem: (k) => (k in values ? values[k] : null) };
}

test('an empty log seen is a position, not "never looked"', () => {
  // The first notice of a user who opened the app with none must count: 0 was read as absent.
  assert.equal(readSeenFrom(storage({ k: '0' }), 'k'), 0);
  assert.equal(readSeenFrom(storage({}), 'k'), null);
  assert.equal(readSeenFrom(storage({ k: 'x' }), 'k'), null);
  assert.equal(readSeenFrom(storage({ k: '12' }), 'k'), 12);
  assert.equal(readSeenFrom({ getItem: () => { throw new Error('private mode'); } }, 'k'), null);
});

test('a decided request leaves the count', () => {
  const items = [
    { seq: 3, kind: 'transfer_requested', done: true },
    { seq: 2, kind: 'assigned', done: false },
    { seq: 1, kind: 'transfer_requested', done: true },
  ];
  assert.equal(unreadCount(3, 0, items), 1, 'two decided, one new lead');
  assert.equal(unreadCount(3, 1, items), 1, 'the one decided before the panel was opened is not counted twice');
  assert.equal(unreadCount(3, 3, items), 0);
  assert.equal(unreadCount(3, null, items), 0, 'first look in this browser');
  assert.equal(unreadCount(30, 0, items), 28, 'more than listed: the log counts');
});
