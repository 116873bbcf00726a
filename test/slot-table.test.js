// SlotTable: the open-stream set of the HTTP/2 server (slot-table.ts explains why it is no Map).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SlotTable } from '../dist/static/slot-table.js';

const members = (table) => {
  const seen = [];
  table.forEach((key, value) => seen.push([key.name, value]));
  return seen;
};

test('members are held with their values until removed from their slot', () => {
  const table = new SlotTable();
  const a = { name: 'a' };
  const b = { name: 'b' };
  const slotA = table.add(a, 1);
  const slotB = table.add(b, null);
  assert.notEqual(slotA, slotB);
  assert.equal(table.size, 2);
  assert.deepEqual(members(table), [['a', 1], ['b', null]]);
  assert.equal(table.remove(slotA, a), 1, 'remove returns the value held');
  assert.equal(table.size, 1);
  assert.deepEqual(members(table), [['b', null]], 'a removed member is no longer visited');
  assert.equal(table.remove(slotB, b), null, 'a null value is returned as null, not as absent');
  assert.equal(table.size, 0);
  assert.deepEqual(members(table), []);
});

test('removing twice, or with another key, changes nothing', () => {
  const table = new SlotTable();
  const a = { name: 'a' };
  const slot = table.add(a, 'x');
  assert.equal(table.remove(slot, { name: 'a' }), undefined, 'another object in that slot is not removed');
  assert.equal(table.size, 1);
  assert.equal(table.remove(slot, a), 'x');
  assert.equal(table.remove(slot, a), undefined, 'a second remove is told apart');
  assert.equal(table.size, 0);
  // The slot is reused; the stale holder of the old slot number still cannot remove the new member.
  const b = { name: 'b' };
  assert.equal(table.add(b, 'y'), slot, 'a freed slot is reused');
  assert.equal(table.remove(slot, a), undefined);
  assert.deepEqual(members(table), [['b', 'y']]);
});

test('the slots grow only to the most members held at once', () => {
  const table = new SlotTable();
  const held = [];
  for (let round = 0; round < 100; round++) {
    for (let i = 0; i < 8; i++) {
      const key = { name: `${round}.${i}` };
      held.push([key, table.add(key, i)]);
    }
    while (held.length > 0) {
      const [key, slot] = held.pop();
      table.remove(slot, key);
    }
  }
  for (let i = 0; i < 8; i++) assert.ok(table.add({ name: `${i}` }, i) < 8, 'slot numbers stay below the peak');
  assert.equal(table.size, 8);
});

test('members added or removed during forEach are safe', () => {
  const table = new SlotTable();
  const keys = ['a', 'b', 'c'].map((name) => ({ name }));
  const slots = keys.map((k) => table.add(k, k.name));
  const visited = [];
  table.forEach((key) => {
    visited.push(key.name);
    if (key.name === 'a') table.remove(slots[1], keys[1]);
  });
  assert.deepEqual(visited, ['a', 'c'], 'a member removed before its turn is not visited');
});
