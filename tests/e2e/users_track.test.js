// users_track.test.js -- POST /users/track: what Braze's documented bodies
// do to profiles (read back with /users/export/ids), per-object errors,
// fatal errors, identifier and creation rules, events, purchases.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness.js');

const NODATA = "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields.";
const NEED_ID = "'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required";
const ONE_ID = "only one of 'external_id', 'braze_id' or 'user_alias' may be given";
const BAD_EMAIL = "The value provided for the 'email' field is not a valid email.";

let srv;
let api;
before(async () => {
  // Exports read back almost every change: lift the 250/min export limit.
  srv = await h.startServer({ args: ['--rate-limit', 'users.export.ids=100000/60s'] });
  api = h.usersApi(srv);
});
after(async () => {
  if (srv) await srv.stop();
});

const err = (type, input_array, index) => ({ type, input_array, index });

// The custom attributes of one user.
async function attrs(id) {
  return (await api.user(id, ['custom_attributes'])).custom_attributes;
}

// A 400 fatal /users/track answer: the message, the errors, and (allowed,
// as in Braze's own fixtures) zero *_processed counts.
function assertFatal(res, errors) {
  assert.equal(res.status, 400, res.text);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  const { attributes_processed: a, events_processed: e, purchases_processed: p, ...rest } = res.json;
  for (const n of [a, e, p]) assert.ok(n === undefined || n === 0, res.text);
  assert.deepEqual(rest, errors ? { message: NODATA, errors } : { message: NODATA }, res.text);
}

// ---- Braze's documented examples -------------------------------------------

test("Braze's example body: 201 with the three counts, and the profile reads back", async () => {
  // The request example of Braze's /users/track page (attributes, two events
  // one of them for an alias nobody has, a purchase with properties).
  const body = {
    attributes: [
      {
        external_id: 'doc-user',
        string_attribute: 'fruit',
        boolean_attribute_1: true,
        integer_attribute: 25,
        array_attribute: ['banana', 'apple'],
      },
    ],
    events: [
      {
        external_id: 'doc-user',
        app_id: 'your_app_identifier',
        name: 'rented_movie',
        time: '2022-12-06T19:20:45+01:00',
        properties: {
          release: { studio: 'FilmStudio', year: '2022' },
          cast: [{ name: 'Actor1' }, { name: 'Actor2' }],
        },
      },
      {
        user_alias: { alias_name: 'device123', alias_label: 'my_device_identifier' },
        app_id: 'your_app_identifier',
        name: 'rented_movie',
        time: '2013-07-16T19:20:50+01:00',
      },
    ],
    purchases: [
      {
        external_id: 'doc-user',
        app_id: 'your_app_identifier',
        product_id: 'product_name',
        currency: 'USD',
        price: 12.12,
        quantity: 6,
        time: '2017-05-12T18:47:12Z',
        properties: { color: 'red', monogram: 'ABC', checkout_duration: 180, size: 'Large', brand: 'Backpack Locker' },
      },
    ],
  };
  await api.trackOk(body, { attributes_processed: 1, events_processed: 2, purchases_processed: 1, message: 'success' });
  const u = await api.user('doc-user');
  assert.deepEqual(h.stableUser(u), {
    external_id: 'doc-user',
    user_aliases: [],
    total_revenue: 12.12 * 6,
    push_subscribe: 'subscribed',
    email_subscribe: 'subscribed',
    custom_attributes: { string_attribute: 'fruit', boolean_attribute_1: true, integer_attribute: 25, array_attribute: ['banana', 'apple'] },
    custom_events: [{ name: 'rented_movie', first: '2022-12-06T18:20:45.000Z', last: '2022-12-06T18:20:45.000Z', count: 1 }],
    purchases: [{ name: 'product_name', first: '2017-05-12T18:47:12.000Z', last: '2017-05-12T18:47:12.000Z', count: 6 }],
    devices: [],
    push_tokens: [],
    apps: [],
    campaigns_received: [],
    canvases_received: [],
    cards_clicked: [],
  });
  // The alias event created nobody (events never create alias-only users).
  await api.none({ user_aliases: [{ alias_name: 'device123', alias_label: 'my_device_identifier' }] });
});

test('standard profile fields from the user attributes object read back', async () => {
  await api.trackOk(
    {
      attributes: [
        {
          external_id: 'std-1',
          first_name: 'Jon',
          last_name: 'Smith',
          email: 'jon@example.com',
          phone: '+15551234567',
          dob: '1980-12-21',
          gender: 'M',
          country: 'US',
          language: 'en',
          home_city: 'New York',
          time_zone: 'America/New_York',
          email_subscribe: 'opted_in',
          push_subscribe: 'unsubscribed',
          current_location: { longitude: -73.9857, latitude: 40.7484 },
        },
      ],
    },
    { attributes_processed: 1, message: 'success' },
  );
  const u = await api.user('std-1');
  assert.deepEqual(h.stableUser(u), {
    external_id: 'std-1',
    user_aliases: [],
    first_name: 'Jon',
    last_name: 'Smith',
    email: 'jon@example.com',
    dob: '1980-12-21',
    home_city: 'New York',
    country: 'US',
    phone: '+15551234567',
    language: 'en',
    time_zone: 'America/New_York',
    last_coordinates: [-73.9857, 40.7484],
    gender: 'M',
    total_revenue: 0,
    push_subscribe: 'unsubscribed',
    email_subscribe: 'opted_in',
    custom_attributes: {},
    custom_events: [],
    purchases: [],
    devices: [],
    push_tokens: [],
    apps: [],
    campaigns_received: [],
    canvases_received: [],
    cards_clicked: [],
  });
});

// ---- custom attribute types ------------------------------------------------

test('custom attribute scalar types: string, int, float, bool, time as ISO with ms', async () => {
  await api.trackOk(
    {
      attributes: [
        {
          external_id: 'types-1',
          s: 'hello',
          empty: '',
          i: 42,
          neg: -7,
          big: 9007199254740991,
          f: 1.5,
          b: true,
          bf: false,
          t_iso: '2020-05-28T10:11:12Z',
          t_ms: '2020-05-28T10:11:12.345Z',
          t_colon_ms: '2020-05-28T10:11:12:345Z', // yyyy-MM-ddTHH:mm:ss:SSSZ
          t_offset: '2020-05-28T10:11:12+02:00',
          t_day: '2021-03-04',
          t_space: '2021-03-04 05:06:07',
          t_us: '12/01/2021',
          t_dash: '12-1-2021',
          year_3001: '3001-01-01',
          not_time: '2021-13-45',
        },
      ],
    },
    { attributes_processed: 1, message: 'success' },
  );
  assert.deepEqual(await attrs('types-1'), {
    s: 'hello',
    empty: '',
    i: 42,
    neg: -7,
    big: 9007199254740991,
    f: 1.5,
    b: true,
    bf: false,
    t_iso: '2020-05-28T10:11:12.000Z',
    t_ms: '2020-05-28T10:11:12.345Z',
    t_colon_ms: '2020-05-28T10:11:12.345Z',
    t_offset: '2020-05-28T08:11:12.000Z',
    t_day: '2021-03-04T00:00:00.000Z',
    t_space: '2021-03-04T05:06:07.000Z',
    t_us: '2021-12-01T00:00:00.000Z',
    t_dash: '2021-12-01T00:00:00.000Z',
    year_3001: '3001-01-01', // Braze keeps years over 3000 as strings
    not_time: '2021-13-45',
  });
  // A later value of another type replaces the old one.
  await api.trackOk({ attributes: [{ external_id: 'types-1', s: 3, i: 'now a string', b: null }] }, { attributes_processed: 1, message: 'success' });
  const a = await attrs('types-1');
  assert.equal(a.s, 3);
  assert.equal(a.i, 'now a string');
  assert.ok(!('b' in a), 'null removes the attribute');
});

test('arrays: set dedupes keeping the first, add moves an existing element to the end, remove, max 25 keeps the newest', async () => {
  const id = 'arr-1';
  const ok = { attributes_processed: 1, message: 'success' };
  await api.trackOk({ attributes: [{ external_id: id, a: ['a', 'b', 'a'], food: ['hotdog', 'hotdog', 'pizza'], mixed: [1, '1', true, 1.5, 1] }] }, ok);
  assert.deepEqual(await attrs(id), { a: ['a', 'b'], food: ['hotdog', 'pizza'], mixed: [1, '1', true, 1.5] });

  await api.trackOk({ attributes: [{ external_id: id, a: { add: ['c', 'a'] } }] }, ok);
  assert.deepEqual((await attrs(id)).a, ['b', 'c', 'a']);
  await api.trackOk({ attributes: [{ external_id: id, a: { remove: ['b', 'zz'] } }] }, ok);
  assert.deepEqual((await attrs(id)).a, ['c', 'a']);
  await api.trackOk({ attributes: [{ external_id: id, a: { add: ['d'], remove: ['c'] } }] }, ok);
  assert.deepEqual((await attrs(id)).a, ['a', 'd']);
  // add on an attribute that does not exist yet creates it.
  await api.trackOk({ attributes: [{ external_id: id, fresh: { add: ['x', 'y'] } }] }, ok);
  assert.deepEqual((await attrs(id)).fresh, ['x', 'y']);
  // Removing everything leaves an empty array.
  await api.trackOk({ attributes: [{ external_id: id, fresh: { remove: ['x', 'y'] } }] }, ok);
  assert.deepEqual((await attrs(id)).fresh, []);

  // Over 25 elements: the oldest drop first.
  const thirty = Array.from({ length: 30 }, (_, i) => `e${i}`);
  await api.trackOk({ attributes: [{ external_id: id, many: thirty }] }, ok);
  assert.deepEqual((await attrs(id)).many, thirty.slice(5));
  await api.trackOk({ attributes: [{ external_id: id, many: { add: ['n1', 'n2'] } }] }, ok);
  assert.deepEqual((await attrs(id)).many, [...thirty.slice(7), 'n1', 'n2']);
  // Re-adding an element already there moves it to the end and drops nothing.
  await api.trackOk({ attributes: [{ external_id: id, many: { add: ['e10'] } }] }, ok);
  assert.deepEqual((await attrs(id)).many, [...thirty.slice(7).filter((e) => e !== 'e10'), 'n1', 'n2', 'e10']);

  // Bad array shapes are per-object errors and change nothing.
  const res = await api.track({
    attributes: [
      { external_id: id, a: [['nested']] },
      { external_id: id, a: { add: 'x' } },
      { external_id: id, a: { add: [{}] } },
      { external_id: id, a: { add: ['x'], push: ['y'] } },
      { external_id: id, a: ['x'.repeat(256)] },
      { external_id: id, a: [{ k: 1 }, 'mixed'] },
    ],
  });
  assertFatal(res, [
    err("'a' must be an array of strings, numbers, booleans or objects", 'attributes', 0),
    err("'a' add must be an array", 'attributes', 1),
    err("'a' add must hold strings, numbers or booleans", 'attributes', 2),
    err("'a' has an unknown operator 'push'", 'attributes', 3),
    err("'a' has an element longer than 255 characters", 'attributes', 4),
    err("'a' mixes objects with other values", 'attributes', 5),
  ]);
  assert.deepEqual((await attrs(id)).a, ['a', 'd']);
});

test('nested objects: replace by default, deep merge with _merge_objects, null removes', async () => {
  const id = 'obj-1';
  const ok = { attributes_processed: 1, message: 'success' };
  await api.trackOk({ attributes: [{ external_id: id, car: { make: 'Tesla', model: 'S', specs: { hp: 500, color: 'red' } } }] }, ok);
  assert.deepEqual((await attrs(id)).car, { make: 'Tesla', model: 'S', specs: { hp: 500, color: 'red' } });
  // Without _merge_objects the object is replaced.
  await api.trackOk({ attributes: [{ external_id: id, car: { specs: { hp: 600 } } }] }, ok);
  assert.deepEqual((await attrs(id)).car, { specs: { hp: 600 } });
  // With it, deep merge: nested keys merge, scalars replace, new keys added.
  await api.trackOk({ attributes: [{ external_id: id, _merge_objects: true, car: { make: 'Ford', specs: { color: 'blue' }, tags: ['a'] } }] }, ok);
  assert.deepEqual((await attrs(id)).car, { specs: { hp: 600, color: 'blue' }, make: 'Ford', tags: ['a'] });
  // _merge_objects: false is a replace too.
  await api.trackOk({ attributes: [{ external_id: id, _merge_objects: false, car: { make: 'VW' } }] }, ok);
  assert.deepEqual((await attrs(id)).car, { make: 'VW' });
  // Dates inside objects use {"$time": ...}.
  await api.trackOk({ attributes: [{ external_id: id, ev: { when: { $time: '2020-05-28' }, n: 1 } }] }, ok);
  assert.ok('ev' in (await attrs(id)));
  // null removes the whole object.
  await api.trackOk({ attributes: [{ external_id: id, car: null }] }, ok);
  assert.ok(!('car' in (await attrs(id))));

  // Invalid keys or values inside an object: an error, nothing of the object applied.
  const res = await api.track({
    attributes: [
      { external_id: id, plain: 'kept?', o: { 'bad key': 1 } },
      { external_id: id, o: { 'a.b': 1 } },
      { external_id: id, o: { $x: 1 } },
      { external_id: id, o: { s: 'x'.repeat(256) } },
      { external_id: id, o: { d: { $time: 'not a date' } } },
    ],
  });
  assertFatal(res, [
    err("'o' has an invalid key 'bad key': keys must be 1-255 characters without spaces, '.' or '$'", 'attributes', 0),
    err("'o' has an invalid key 'a.b': keys must be 1-255 characters without spaces, '.' or '$'", 'attributes', 1),
    err("'o' has an invalid key '$x': keys must be 1-255 characters without spaces, '.' or '$'", 'attributes', 2),
    err("'o' has a string value longer than 255 characters", 'attributes', 3),
    err("'o' has a '$time' that is not a valid time", 'attributes', 4),
  ]);
  const a = await attrs(id);
  assert.ok(!('o' in a) && !('plain' in a), JSON.stringify(a));
});

test('arrays of objects: set, $add, $remove, $update (with _merge_objects)', async () => {
  const id = 'objarr-1';
  const ok = { attributes_processed: 1, message: 'success' };
  await api.trackOk({ attributes: [{ external_id: id, pets: [{ id: 1, type: 'dog', info: { age: 3 } }, { id: 2, type: 'cat' }] }] }, ok);
  assert.deepEqual((await attrs(id)).pets, [{ id: 1, type: 'dog', info: { age: 3 } }, { id: 2, type: 'cat' }]);
  await api.trackOk({ attributes: [{ external_id: id, pets: { $add: [{ id: 3, type: 'fish' }, { id: 2, type: 'cat2' }] } }] }, ok);
  assert.deepEqual((await attrs(id)).pets, [
    { id: 1, type: 'dog', info: { age: 3 } },
    { id: 2, type: 'cat' },
    { id: 3, type: 'fish' },
    { id: 2, type: 'cat2' },
  ]);
  // $remove removes every matching item.
  await api.trackOk({ attributes: [{ external_id: id, pets: { $remove: [{ $identifier_key: 'id', $identifier_value: 2 }] } }] }, ok);
  assert.deepEqual((await attrs(id)).pets, [{ id: 1, type: 'dog', info: { age: 3 } }, { id: 3, type: 'fish' }]);
  // $update deep-merges $new_object into the matching item.
  await api.trackOk(
    {
      attributes: [
        {
          external_id: id,
          _merge_objects: true,
          pets: { $update: [{ $identifier_key: 'id', $identifier_value: 1, $new_object: { type: 'wolf', info: { weight: 30 } } }] },
        },
      ],
    },
    ok,
  );
  assert.deepEqual((await attrs(id)).pets, [{ id: 1, type: 'wolf', info: { age: 3, weight: 30 } }, { id: 3, type: 'fish' }]);
  // $add on a new attribute creates the array.
  await api.trackOk({ attributes: [{ external_id: id, toys: { $add: [{ n: 'ball' }] } }] }, ok);
  assert.deepEqual((await attrs(id)).toys, [{ n: 'ball' }]);

  const res = await api.track({
    attributes: [
      { external_id: id, pets: { $remove: [{ id: 1 }] } },
      { external_id: id, pets: { $update: [{ $identifier_key: 'id', $identifier_value: 1 }] } },
      { external_id: id, pets: { $add: [1] } },
      { external_id: id, pets: { $add: {} } },
    ],
  });
  assertFatal(res, [
    err("'pets' $remove items need '$identifier_key' and '$identifier_value'", 'attributes', 0),
    err("'pets' $update items need a '$new_object' object", 'attributes', 1),
    err("'pets' $add must hold objects", 'attributes', 2),
    err("'pets' $add must be an array", 'attributes', 3),
  ]);
  assert.deepEqual((await attrs(id)).pets, [{ id: 1, type: 'wolf', info: { age: 3, weight: 30 } }, { id: 3, type: 'fish' }]);
});

test('{"inc": n} increments integers (from 0 when absent), may be negative; bad inc is an error', async () => {
  const id = 'inc-1';
  const ok = (n) => ({ attributes_processed: n, message: 'success' });
  await api.trackOk({ attributes: [{ external_id: id, n: { inc: 5 } }] }, ok(1));
  assert.equal((await attrs(id)).n, 5);
  // Several objects for the same user in one request all apply, in order.
  await api.trackOk({ attributes: [{ external_id: id, n: { inc: 3 } }, { external_id: id, n: { inc: -10 } }, { external_id: id, m: 7 }] }, ok(3));
  assert.deepEqual(await attrs(id), { n: -2, m: 7 });
  await api.trackOk({ attributes: [{ external_id: id, m: { inc: 1 } }] }, ok(1));
  assert.equal((await attrs(id)).m, 8);
  const res = await api.track({ attributes: [{ external_id: id, n: { inc: 1.5 } }, { external_id: id, n: { inc: '1' } }] });
  assertFatal(res, [err("'n' inc must be an integer", 'attributes', 0), err("'n' inc must be an integer", 'attributes', 1)]);
  assert.equal((await attrs(id)).n, -2);
});

test('null unsets custom and standard attributes', async () => {
  const id = 'null-1';
  const ok = { attributes_processed: 1, message: 'success' };
  await api.trackOk({ attributes: [{ external_id: id, first_name: 'A', home_city: 'B', x: 1, y: [1], z: { a: 1 } }] }, ok);
  await api.trackOk({ attributes: [{ external_id: id, first_name: null, home_city: null, x: null, y: null, z: null, never_set: null }] }, ok);
  const u = await api.user(id, ['first_name', 'home_city', 'custom_attributes']);
  assert.deepEqual(u, { custom_attributes: {} });
});

// ---- errors ----------------------------------------------------------------

test('partial errors: a bad object is reported by array and index and nothing of it applies; the rest applies', async () => {
  await api.trackOk({ attributes: [{ external_id: 'part-old', keep: 'old' }] }, { attributes_processed: 1, message: 'success' });
  const res = await api.track({
    attributes: [
      { external_id: 'part-a', v: 1 },
      { external_id: 'part-new', v: 2, email: 'not-an-email' }, // new user: not created
      { external_id: 'part-old', keep: 'new', email: 'also bad@x.com' }, // existing: unchanged
      { v: 3 },
      { external_id: 'part-b', v: 4 },
    ],
    events: [
      { external_id: 'part-a', name: 'ok', time: '2021-01-01T00:00:00Z' },
      { external_id: 'part-a', name: 'no-time' },
    ],
    purchases: [
      { external_id: 'part-a', product_id: 'p', currency: 'usd$', price: 1, time: '2021-01-01T00:00:00Z' },
      { external_id: 'part-a', product_id: 'p', currency: 'EUR', price: 1, time: '2021-01-01T00:00:00Z' },
    ],
  });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json, {
    attributes_processed: 2,
    events_processed: 1,
    purchases_processed: 1,
    message: 'success',
    errors: [
      err(BAD_EMAIL, 'attributes', 1),
      err(BAD_EMAIL, 'attributes', 2),
      err(NEED_ID, 'attributes', 3),
      err("'time' is required", 'events', 1),
      err("'currency' must be an ISO 4217 currency", 'purchases', 0),
    ],
  });
  assert.deepEqual(await attrs('part-a'), { v: 1 });
  assert.deepEqual(await attrs('part-b'), { v: 4 });
  await api.none('part-new');
  const old = await api.user('part-old', ['email', 'custom_attributes']);
  assert.deepEqual(old, { custom_attributes: { keep: 'old' } });
  const a = await api.user('part-a', ['custom_events', 'purchases', 'total_revenue']);
  assert.deepEqual(a, {
    total_revenue: 1,
    custom_events: [{ name: 'ok', first: '2021-01-01T00:00:00.000Z', last: '2021-01-01T00:00:00.000Z', count: 1 }],
    purchases: [{ name: 'p', first: '2021-01-01T00:00:00.000Z', last: '2021-01-01T00:00:00.000Z', count: 1 }],
  });
});

test('every object invalid: 400 with the Braze message and all errors; nothing applied', async () => {
  const res = await api.track({
    attributes: [{ first_name: 'nobody' }, { external_id: 'allbad-1', email: 'x' }, 5],
    events: [{ external_id: 'allbad-2', time: '2021-01-01T00:00:00Z' }],
    purchases: [{ external_id: 'allbad-3', currency: 'USD', price: 1, time: '2021-01-01T00:00:00Z' }],
  });
  assertFatal(res, [
    err(NEED_ID, 'attributes', 0),
    err(BAD_EMAIL, 'attributes', 1),
    err("each item of 'attributes' must be an object", 'attributes', 2),
    err("'name' is required", 'events', 0),
    err("'product_id' is required", 'purchases', 0),
  ]);
  await api.none({ external_ids: ['allbad-1', 'allbad-2', 'allbad-3'] });
});

test('an empty body {} or empty arrays: 400 with the Braze message', async () => {
  h.assertError(await api.track({}), 400, NODATA);
  assertFatal(await api.track({ attributes: [] }));
  assertFatal(await api.track({ attributes: [], events: [], purchases: [] }));
  assertFatal(await api.track({ attributes: null }));
  // Unknown top-level keys are tolerated (RudderStack sends "partner").
  h.assertError(await api.track({ partner: 'RudderStack' }), 400, NODATA);
  await api.trackOk({ partner: 'RudderStack', attributes: [{ external_id: 'partner-1', a: 1 }] }, { attributes_processed: 1, message: 'success' });
});

test('more than 75 objects in one array: 400 "Max Input Length Exceeded"; 75 is fine', async () => {
  const objs = (n, f) => Array.from({ length: n }, (_, i) => f(i));
  const attr = (i) => ({ external_id: `max-${i}`, n: i });
  const ev = (i) => ({ external_id: 'max-ev', name: 'e', time: '2021-01-01T00:00:00Z', properties: { i } });
  const pu = (i) => ({ external_id: 'max-pu', product_id: 'p', currency: 'USD', price: 1, time: '2021-01-01T00:00:00Z', properties: { i } });
  for (const body of [{ attributes: objs(76, attr) }, { events: objs(76, ev) }, { purchases: objs(76, pu) }, { attributes: objs(1, attr), events: objs(200, ev) }]) {
    h.assertError(await api.track(body), 400, /^Max Input Length Exceeded/);
  }
  await api.none({ external_ids: ['max-0', 'max-ev', 'max-pu'] });
  await api.trackOk(
    { attributes: objs(75, attr), events: objs(75, ev), purchases: objs(75, pu) },
    { attributes_processed: 75, events_processed: 75, purchases_processed: 75, message: 'success' },
  );
  assert.deepEqual(await attrs('max-74'), { n: 74 });
  assert.equal((await api.user('max-ev', ['custom_events'])).custom_events[0].count, 75);
  assert.equal((await api.user('max-pu', ['purchases'])).purchases[0].count, 75);
});

test('a body that is not an object, or arrays that are not arrays: 400 "Bad Request: ..."', async () => {
  for (const body of [[], [{ attributes: [] }], 'text', 5, null, true]) {
    h.assertError(await api.track(body), 400, 'Bad Request: the body must be a JSON object');
  }
  for (const [k, v] of [['attributes', {}], ['attributes', 'x'], ['events', { name: 'e' }], ['purchases', 1]]) {
    h.assertError(await api.track({ [k]: v }), 400, `Bad Request: '${k}' must be an array of objects`);
  }
  // A malformed array fails the whole request, even next to valid data.
  h.assertError(await api.track({ attributes: [{ external_id: 'badarr-1', a: 1 }], events: {} }), 400, "Bad Request: 'events' must be an array of objects");
  await api.none('badarr-1');
  const raw = await h.request(srv, 'POST', '/users/track', { key: srv.key, raw: '{"attributes": [', headers: { 'content-type': 'application/json' } });
  h.assertError(raw, 400, /^Invalid JSON in request body/);
});

// ---- identifiers and creation ----------------------------------------------

test('external_id creates a user; _update_existing_only: true does not', async () => {
  await api.trackOk({ attributes: [{ external_id: 'ident-new', a: 1 }] }, { attributes_processed: 1, message: 'success' });
  assert.deepEqual(await attrs('ident-new'), { a: 1 });
  await api.trackOk(
    {
      attributes: [{ external_id: 'ident-never', _update_existing_only: true, a: 1 }],
      events: [{ external_id: 'ident-never2', _update_existing_only: true, name: 'e', time: '2021-01-01T00:00:00Z' }],
      purchases: [{ external_id: 'ident-never3', _update_existing_only: true, product_id: 'p', currency: 'USD', price: 1, time: '2021-01-01T00:00:00Z' }],
    },
    { attributes_processed: 1, events_processed: 1, purchases_processed: 1, message: 'success' },
  );
  await api.none({ external_ids: ['ident-never', 'ident-never2', 'ident-never3'] });
  // An existing user is updated in update-only mode.
  await api.trackOk({ attributes: [{ external_id: 'ident-new', _update_existing_only: true, a: 2 }] }, { attributes_processed: 1, message: 'success' });
  assert.deepEqual(await attrs('ident-new'), { a: 2 });
  // A numeric external_id is a string id.
  await api.trackOk({ attributes: [{ external_id: 12345, a: 1 }] }, { attributes_processed: 1, message: 'success' });
  assert.equal((await api.user('12345', ['external_id'])).external_id, '12345');
  // _update_existing_only must be a boolean.
  assertFatal(await api.track({ attributes: [{ external_id: 'ident-x', _update_existing_only: 'yes', a: 1 }] }), [
    err("'_update_existing_only' must be a boolean", 'attributes', 0),
  ]);
  await api.none('ident-x');
});

test('user_alias creates an alias-only user only with "_update_existing_only": false in attributes', async () => {
  const alias = { alias_name: 'al-1', alias_label: 'crm' };
  const byAlias = { user_aliases: [alias] };
  // Default (update-only) and explicit true: nothing is created.
  await api.trackOk({ attributes: [{ user_alias: alias, a: 1 }, { user_alias: alias, _update_existing_only: true, a: 1 }] }, { attributes_processed: 2, message: 'success' });
  await api.none(byAlias);
  // Events and purchases with an alias never create, even with false.
  await api.trackOk(
    {
      events: [{ user_alias: alias, _update_existing_only: false, name: 'e', time: '2021-01-01T00:00:00Z' }],
      purchases: [{ user_alias: alias, _update_existing_only: false, product_id: 'p', currency: 'USD', price: 1, time: '2021-01-01T00:00:00Z' }],
    },
    { events_processed: 1, purchases_processed: 1, message: 'success' },
  );
  await api.none(byAlias);
  await api.trackOk({ attributes: [{ user_alias: alias, _update_existing_only: false, a: 1 }] }, { attributes_processed: 1, message: 'success' });
  const u = await api.user(byAlias);
  assert.deepEqual(h.stableUser(u), {
    user_aliases: [alias],
    total_revenue: 0,
    push_subscribe: 'subscribed',
    email_subscribe: 'subscribed',
    custom_attributes: { a: 1 },
    custom_events: [],
    purchases: [],
    devices: [],
    push_tokens: [],
    apps: [],
    campaigns_received: [],
    canvases_received: [],
    cards_clicked: [],
  });
  // Now it exists: alias updates and events reach it without the flag.
  await api.trackOk(
    { attributes: [{ user_alias: alias, b: 2 }], events: [{ user_alias: alias, name: 'e', time: '2021-01-01T00:00:00Z' }] },
    { attributes_processed: 1, events_processed: 1, message: 'success' },
  );
  const v = await api.user(byAlias, ['custom_attributes', 'custom_events']);
  assert.deepEqual(v, {
    custom_attributes: { a: 1, b: 2 },
    custom_events: [{ name: 'e', first: '2021-01-01T00:00:00.000Z', last: '2021-01-01T00:00:00.000Z', count: 1 }],
  });
  // Bad alias shapes.
  assertFatal(
    await api.track({
      attributes: [
        { user_alias: { alias_name: 'x' }, _update_existing_only: false },
        { user_alias: 'x', _update_existing_only: false },
        { user_alias: { alias_name: '', alias_label: 'l' }, _update_existing_only: false },
      ],
    }),
    [0, 1, 2].map((i) => err("'user_alias' must be an object with non-empty string 'alias_name' and 'alias_label'", 'attributes', i)),
  );
});

test('email as identifier creates an email-only profile; then finds it', async () => {
  await api.trackOk({ attributes: [{ email: 'only@example.com', first_name: 'Em' }] }, { attributes_processed: 1, message: 'success' });
  const u = await api.user({ email_address: 'only@example.com' }, ['external_id', 'email', 'first_name', 'user_aliases']);
  assert.deepEqual(u, { user_aliases: [], email: 'only@example.com', first_name: 'Em' });
  // The same email again updates the same profile (no second one).
  await api.trackOk(
    { attributes: [{ email: 'only@example.com', last_name: 'Only' }], events: [{ email: 'only@example.com', name: 'e', time: '2021-01-01T00:00:00Z' }] },
    { attributes_processed: 1, events_processed: 1, message: 'success' },
  );
  const v = await api.user({ email_address: 'only@example.com' }, ['first_name', 'last_name', 'custom_events']);
  assert.deepEqual(v, {
    first_name: 'Em',
    last_name: 'Only',
    custom_events: [{ name: 'e', first: '2021-01-01T00:00:00.000Z', last: '2021-01-01T00:00:00.000Z', count: 1 }],
  });
  // An event by an unknown email creates an email-only profile too.
  await api.trackOk({ events: [{ email: 'evonly@example.com', name: 'e', time: '2021-01-01T00:00:00Z' }] }, { events_processed: 1, message: 'success' });
  assert.equal((await api.user({ email_address: 'evonly@example.com' }, ['custom_events'])).custom_events[0].count, 1);
  // Phone works likewise.
  await api.trackOk({ attributes: [{ phone: '+33612345678', first_name: 'Ph' }] }, { attributes_processed: 1, message: 'success' });
  assert.deepEqual(await api.user({ phone: '+33612345678' }, ['phone', 'first_name']), { first_name: 'Ph', phone: '+33612345678' });
  // With a primary identifier, email is just an attribute of that user.
  await api.trackOk({ attributes: [{ external_id: 'with-email', email: 'only@example.com' }] }, { attributes_processed: 1, message: 'success' });
  assert.equal((await api.user('with-email', ['email'])).email, 'only@example.com');
  // An invalid email as identifier is an error.
  assertFatal(await api.track({ attributes: [{ email: 'nope', a: 1 }] }), [err(BAD_EMAIL, 'attributes', 0)]);
});

test('more than one of external_id, braze_id, user_alias: an error entry', async () => {
  const alias = { alias_name: 'multi', alias_label: 'l' };
  const res = await api.track({
    attributes: [
      { external_id: 'multi-1', user_alias: alias, _update_existing_only: false, a: 1 },
      { external_id: 'multi-2', braze_id: '000000000000000000000000', a: 1 },
      { braze_id: '000000000000000000000000', user_alias: alias, a: 1 },
      { external_id: 'multi-3', a: 1 },
    ],
    events: [{ external_id: 'multi-4', user_alias: alias, name: 'e', time: '2021-01-01T00:00:00Z' }],
  });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json, {
    attributes_processed: 1,
    events_processed: 0,
    message: 'success',
    errors: [err(ONE_ID, 'attributes', 0), err(ONE_ID, 'attributes', 1), err(ONE_ID, 'attributes', 2), err(ONE_ID, 'events', 0)],
  });
  await api.none({ external_ids: ['multi-1', 'multi-2', 'multi-4'] });
  await api.none({ user_aliases: [alias] });
});

test('braze_id addresses an existing user and never creates one', async () => {
  await api.trackOk({ attributes: [{ external_id: 'bz-1', a: 1 }] }, { attributes_processed: 1, message: 'success' });
  const bz = (await api.user('bz-1', ['braze_id'])).braze_id;
  assert.match(bz, h.BRAZE_ID_RE);
  await api.trackOk({ attributes: [{ braze_id: bz, b: 2 }] }, { attributes_processed: 1, message: 'success' });
  assert.deepEqual(await attrs('bz-1'), { a: 1, b: 2 });
  const unknown = bz === 'ffffffffffffffffffffffff' ? 'fffffffffffffffffffffffe' : 'ffffffffffffffffffffffff';
  await api.trackOk(
    { attributes: [{ braze_id: unknown, a: 1 }, { braze_id: 'not-hex', a: 1 }], events: [{ braze_id: unknown, name: 'e', time: '2021-01-01T00:00:00Z' }] },
    { attributes_processed: 2, events_processed: 1, message: 'success' },
  );
  await api.none({ braze_id: unknown });
  await api.none({ braze_id: 'not-hex' });
});

test("external_id longer than 987 bytes: 'external_id' must be fewer than 988 bytes", async () => {
  const ok987 = 'x'.repeat(987);
  await api.trackOk({ attributes: [{ external_id: ok987, a: 1 }] }, { attributes_processed: 1, message: 'success' });
  assert.deepEqual(await attrs(ok987), { a: 1 });
  assertFatal(await api.track({ attributes: [{ external_id: 'y'.repeat(988), a: 1 }] }), [err("'external_id' must be fewer than 988 bytes", 'attributes', 0)]);
  assertFatal(await api.track({ attributes: [{ external_id: '', a: 1 }, { external_id: ['x'], a: 1 }] }), [
    err("'external_id' must not be empty", 'attributes', 0),
    err("'external_id' must be a string", 'attributes', 1),
  ]);
});

test("identifiers other than external_id have bounds too: a phone of 256 characters, an alias of 988 bytes", async () => {
  assertFatal(await api.track({ attributes: [{ phone: '7'.repeat(256), a: 1 }] }), [err("'phone' must be 255 characters or fewer", 'attributes', 0)]);
  assertFatal(await api.track({ attributes: [{ user_alias: { alias_label: 'l'.repeat(988), alias_name: 'n' }, a: 1 }] }), [
    err("'user_alias' 'alias_name' and 'alias_label' must be fewer than 988 bytes", 'attributes', 0),
  ]);
  await api.trackOk({ attributes: [{ phone: '7'.repeat(255), a: 1 }, { user_alias: { alias_label: 'l'.repeat(987), alias_name: 'n' }, a: 1 }] },
    { attributes_processed: 2, message: 'success' });
});

// ---- events ----------------------------------------------------------------

test('events: summaries count every event; first and last are the min and max times', async () => {
  const id = 'ev-sum';
  const e = (time, name = 'played') => ({ external_id: id, name, time });
  await api.trackOk({ events: [e('2021-06-02T10:00:00Z'), e('2021-06-01T09:00:00:250Z'), e('2021-06-03T00:00:00+05:00'), e('2021-06-01', 'other')] }, {
    events_processed: 4,
    message: 'success',
  });
  // The same occurrence twice counts twice (no de-duplication).
  await api.trackOk({ events: [e('2021-06-02T10:00:00Z'), e('2021-06-02T10:00:00Z')] }, { events_processed: 2, message: 'success' });
  const u = await api.user(id, ['custom_events']);
  const byName = Object.fromEntries(u.custom_events.map((x) => [x.name, x]));
  assert.equal(u.custom_events.length, 2);
  assert.deepEqual(byName.played, { name: 'played', first: '2021-06-01T09:00:00.250Z', last: '2021-06-02T19:00:00.000Z', count: 5 });
  assert.deepEqual(byName.other, { name: 'other', first: '2021-06-01T00:00:00.000Z', last: '2021-06-01T00:00:00.000Z', count: 1 });
  // Events with properties of every allowed kind are accepted.
  await api.trackOk(
    {
      events: [
        { external_id: id, name: 'props', time: '2021-06-01T00:00:00Z', app_id: 'app', properties: { s: 's', n: 1, f: 1.5, b: false, d: '2021-01-01', a: [1, 'x'], o: { k: { j: 1 } } } },
      ],
    },
    { events_processed: 1, message: 'success' },
  );
});

test('events: a future time becomes the time of the request', async () => {
  const before = Date.now();
  await api.trackOk({ events: [{ external_id: 'ev-future', name: 'f', time: '2999-01-01T00:00:00Z' }] }, { events_processed: 1, message: 'success' });
  const afterMs = Date.now();
  const [s] = (await api.user('ev-future', ['custom_events'])).custom_events;
  assert.equal(s.count, 1);
  assert.equal(s.first, s.last);
  const t = Date.parse(s.last);
  assert.ok(t >= before - 2000 && t <= afterMs + 2000, `future event stored at ${s.last}, request between ${new Date(before).toISOString()} and ${new Date(afterMs).toISOString()}`);
});

test('events: invalid objects are error entries with Braze-style types', async () => {
  const base = { external_id: 'ev-bad', name: 'e', time: '2021-01-01T00:00:00Z' };
  const without = (k) => {
    const o = { ...base };
    delete o[k];
    return o;
  };
  const bad = [
    [without('name'), "'name' is required"],
    [{ ...base, name: '' }, "'name' must be a non-empty string"],
    [{ ...base, name: 5 }, "'name' must be a non-empty string"],
    [{ ...base, name: 'n'.repeat(256) }, "'name' must be 255 characters or fewer"],
    [without('time'), "'time' is required"],
    [{ ...base, time: 'yesterday' }, "'time' is not a valid time"],
    [{ ...base, time: '2021-02-30T00:00:00Z' }, "'time' is not a valid time"],
    [{ ...base, time: 1609459200 }, "'time' is not a valid time"],
    [{ ...base, properties: { time: 'x' } }, "'time' is a reserved property name"],
    [{ ...base, properties: { event_name: 'x' } }, "'event_name' is a reserved property name"],
    [{ ...base, properties: { $price: 1 } }, "'$price' is not a valid property name: names are 1-255 characters and do not start with '$'"],
    [{ ...base, properties: { '': 1 } }, "'' is not a valid property name: names are 1-255 characters and do not start with '$'"],
    [{ ...base, properties: { long: 'x'.repeat(256) } }, "property 'long' must be 255 characters or fewer"],
    [{ ...base, properties: ['x'] }, "'properties' must be an object"],
    [{ ...base, app_id: 5 }, "'app_id' must be a string"],
    [{ name: 'e', time: '2021-01-01T00:00:00Z' }, NEED_ID],
  ];
  const res = await api.track({ events: [...bad.map((b) => b[0]), { ...base, properties: { ok: 'x'.repeat(255), ['ü'.repeat(10)]: 'é'.repeat(255) } }] });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json, { events_processed: 1, message: 'success', errors: bad.map((b, i) => err(b[1], 'events', i)) });
  // Only the last, valid event counted.
  assert.deepEqual((await api.user('ev-bad', ['custom_events'])).custom_events, [
    { name: 'e', first: '2021-01-01T00:00:00.000Z', last: '2021-01-01T00:00:00.000Z', count: 1 },
  ]);
});

// ---- purchases -------------------------------------------------------------

test('purchases: count is the sum of quantities, total_revenue the sum of price * quantity', async () => {
  const id = 'pur-1';
  const p = (product_id, price, quantity, time, currency = 'USD') => ({ external_id: id, product_id, currency, price, ...(quantity === undefined ? {} : { quantity }), time });
  await api.trackOk(
    { purchases: [p('shoe', 2.5, 3, '2021-01-02T00:00:00Z'), p('shoe', 10, undefined, '2021-01-01T12:00:00Z'), p('hat', 0.25, 100, '2021-01-05T00:00:00Z', 'EUR'), p('free', 0, 1, '2021-01-03')] },
    { purchases_processed: 4, message: 'success' },
  );
  await api.trackOk({ purchases: [p('hat', 1, 2, '2021-01-04T00:00:00Z')] }, { purchases_processed: 1, message: 'success' });
  const u = await api.user(id, ['purchases', 'total_revenue']);
  assert.equal(u.total_revenue, 2.5 * 3 + 10 + 0.25 * 100 + 0 + 1 * 2);
  const byName = Object.fromEntries(u.purchases.map((x) => [x.name, x]));
  assert.equal(u.purchases.length, 3);
  assert.deepEqual(byName.shoe, { name: 'shoe', first: '2021-01-01T12:00:00.000Z', last: '2021-01-02T00:00:00.000Z', count: 4 });
  assert.deepEqual(byName.hat, { name: 'hat', first: '2021-01-04T00:00:00.000Z', last: '2021-01-05T00:00:00.000Z', count: 102 });
  assert.deepEqual(byName.free, { name: 'free', first: '2021-01-03T00:00:00.000Z', last: '2021-01-03T00:00:00.000Z', count: 1 });
});

test('purchases: invalid objects are error entries with Braze-style types', async () => {
  const base = { external_id: 'pur-bad', product_id: 'p', currency: 'USD', price: 5, time: '2021-01-01T00:00:00Z' };
  const without = (k) => {
    const o = { ...base };
    delete o[k];
    return o;
  };
  const bad = [
    [without('product_id'), "'product_id' is required"],
    [{ ...base, product_id: '' }, "'product_id' must be a string of 1-255 characters"],
    [{ ...base, product_id: 7 }, "'product_id' must be a string of 1-255 characters"],
    [without('currency'), "'currency' is required"],
    [{ ...base, currency: 'US' }, "'currency' must be an ISO 4217 currency"],
    [{ ...base, currency: 'DOLLARS' }, "'currency' must be an ISO 4217 currency"],
    [{ ...base, currency: 840 }, "'currency' must be an ISO 4217 currency"],
    [without('price'), "'price' is required"],
    [{ ...base, price: '5' }, "'price' is not valid"],
    [{ ...base, price: true }, "'price' is not valid"],
    [{ ...base, quantity: 0 }, "'quantity' is not valid"],
    [{ ...base, quantity: 101 }, "'quantity' is not valid"],
    [{ ...base, quantity: -1 }, "'quantity' is not valid"],
    [{ ...base, quantity: 1.5 }, "'quantity' is not valid"],
    [{ ...base, quantity: '2' }, "'quantity' is not valid"],
    [without('time'), "'time' is required"],
    [{ ...base, time: 'soon' }, "'time' is not a valid time"],
    [{ ...base, properties: { $x: 1 } }, "'$x' is not a valid property name: names are 1-255 characters and do not start with '$'"],
  ];
  const res = await api.track({ purchases: [...bad.map((b) => b[0]), { ...base, quantity: 100 }] });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json, { purchases_processed: 1, message: 'success', errors: bad.map((b, i) => err(b[1], 'purchases', i)) });
  const u = await api.user('pur-bad', ['purchases', 'total_revenue']);
  assert.deepEqual(u, { total_revenue: 500, purchases: [{ name: 'p', first: '2021-01-01T00:00:00.000Z', last: '2021-01-01T00:00:00.000Z', count: 100 }] });
});

// ---- Unicode ---------------------------------------------------------------

test('Unicode attribute names and values round-trip exactly', async () => {
  const id = 'uni-😀-用户-é';
  const values = {
    '名前': '山田太郎',
    'café': 'crème brûlée',
    '😀': '🎉🎊 party',
    'Ωmega': ['α', 'β', '😀', 'α'],
    'obj_ü': { 'ключ': 'значение', 'n': { 'é': '👍' } },
    'emoji_255': '😀'.repeat(255), // 255 characters, 1020 bytes
    'zalgo': 'e\u0301\u0302',
  };
  await api.trackOk(
    { attributes: [{ external_id: id, first_name: 'Zoë', home_city: 'München', ...values }], events: [{ external_id: id, name: 'évènement 🎬', time: '2021-01-01T00:00:00Z' }] },
    { attributes_processed: 1, events_processed: 1, message: 'success' },
  );
  const u = await api.user(id, ['external_id', 'first_name', 'home_city', 'custom_attributes', 'custom_events']);
  assert.deepEqual(u, {
    external_id: id,
    first_name: 'Zoë',
    home_city: 'München',
    custom_attributes: { ...values, 'Ωmega': ['α', 'β', '😀'] },
    custom_events: [{ name: 'évènement 🎬', first: '2021-01-01T00:00:00.000Z', last: '2021-01-01T00:00:00.000Z', count: 1 }],
  });
  // 256 characters is over the limit however few bytes... or many.
  assertFatal(await api.track({ attributes: [{ external_id: id, too_long: '😀'.repeat(256) }] }), [err("'too_long' must be 255 characters or fewer", 'attributes', 0)]);
});

// ---- standard fields -------------------------------------------------------

test('gender: M F O N P (and lower case) stored upper case; null removes; others are errors', async () => {
  const cases = [['M', 'M'], ['F', 'F'], ['O', 'O'], ['N', 'N'], ['P', 'P'], ['m', 'M'], ['f', 'F']];
  await api.trackOk({ attributes: cases.map(([g], i) => ({ external_id: `g-${i}`, gender: g })) }, { attributes_processed: cases.length, message: 'success' });
  for (let i = 0; i < cases.length; i++) assert.equal((await api.user(`g-${i}`, ['gender'])).gender, cases[i][1], cases[i][0]);
  await api.trackOk({ attributes: [{ external_id: 'g-0', gender: null }] }, { attributes_processed: 1, message: 'success' });
  assert.deepEqual(await api.user('g-0', ['gender']), {});
  assertFatal(await api.track({ attributes: [{ external_id: 'g-1', gender: 'X' }, { external_id: 'g-1', gender: 1 }, { external_id: 'g-1', gender: '' }] }), [
    err("'gender' is not valid", 'attributes', 0),
    err("'gender' is not valid", 'attributes', 1),
    err("'gender' is not valid", 'attributes', 2),
  ]);
  assert.equal((await api.user('g-1', ['gender'])).gender, 'F');
});

test('dob: "YYYY-MM-DD" only; other forms are errors, never stored in another format', async () => {
  await api.trackOk({ attributes: [{ external_id: 'dob-ok', dob: '1980-12-21' }] }, { attributes_processed: 1, message: 'success' });
  assert.deepEqual(await api.user('dob-ok', ['dob']), { dob: '1980-12-21' });
  const DOB = "'dob' must be a date in the format YYYY-MM-DD";
  const bad = ['1980/12/21', '21-12-1980x', '1980-02-30', '1980-13-01', '1980-12-21T00:00:00Z', '80-12-21', 'yesterday', 19801221];
  assertFatal(await api.track({ attributes: bad.map((dob) => ({ external_id: 'dob-ok', dob })) }), bad.map((_, i) => err(DOB, 'attributes', i)));
  assert.deepEqual(await api.user('dob-ok', ['dob']), { dob: '1980-12-21' });
  // Other date layouts: rejected with the same message, or stored as
  // YYYY-MM-DD -- but the export must never hand back "12/21/1980".
  for (const [i, dob] of ['12/21/1980', '12-21-1980'].entries()) {
    const id = `dob-us-${i}`;
    const res = await api.track({ attributes: [{ external_id: id, dob }] });
    if (res.status === 400) {
      assertFatal(res, [err(DOB, 'attributes', 0)]);
    } else {
      assert.deepEqual(res.json, { attributes_processed: 1, message: 'success' }, res.text);
      assert.deepEqual(await api.user(id, ['dob']), { dob: '1980-12-21' }, `dob ${dob} must export as YYYY-MM-DD`);
    }
  }
});

test('country: ISO codes kept (upper case), names mapped ("France" -> "FR"), unmappable -> absent', async () => {
  const cases = [['FR', 'FR'], ['fr', 'FR'], ['France', 'FR'], ['united states', 'US'], ['Australia', 'AU'], ['Atlantis', undefined]];
  await api.trackOk({ attributes: cases.map(([c], i) => ({ external_id: `c-${i}`, country: c })) }, { attributes_processed: cases.length, message: 'success' });
  for (let i = 0; i < cases.length; i++) assert.equal((await api.user(`c-${i}`, ['country'])).country, cases[i][1], cases[i][0]);
  // An unmappable country clears an earlier one (Braze stores null).
  await api.trackOk({ attributes: [{ external_id: 'c-0', country: 'Neverland' }] }, { attributes_processed: 1, message: 'success' });
  assert.deepEqual(await api.user('c-0', ['country']), {});
});

test('email_subscribe / push_subscribe: only opted_in, subscribed, unsubscribed', async () => {
  await api.trackOk({ attributes: [{ external_id: 'sub-1', email_subscribe: 'unsubscribed', push_subscribe: 'opted_in' }] }, { attributes_processed: 1, message: 'success' });
  assert.deepEqual(await api.user('sub-1', ['email_subscribe', 'push_subscribe']), { email_subscribe: 'unsubscribed', push_subscribe: 'opted_in' });
  assertFatal(await api.track({ attributes: [{ external_id: 'sub-1', email_subscribe: 'yes' }, { external_id: 'sub-1', push_subscribe: 'Subscribed' }, { external_id: 'sub-1', email_subscribe: true }] }), [
    err("'email_subscribe' must be one of 'opted_in', 'subscribed' or 'unsubscribed'", 'attributes', 0),
    err("'push_subscribe' must be one of 'opted_in', 'subscribed' or 'unsubscribed'", 'attributes', 1),
    err("'email_subscribe' must be one of 'opted_in', 'subscribed' or 'unsubscribed'", 'attributes', 2),
  ]);
  assert.deepEqual(await api.user('sub-1', ['email_subscribe', 'push_subscribe']), { email_subscribe: 'unsubscribed', push_subscribe: 'opted_in' });
  // Never set: Braze's default state.
  await api.trackOk({ attributes: [{ external_id: 'sub-2', a: 1 }] }, { attributes_processed: 1, message: 'success' });
  assert.deepEqual(await api.user('sub-2', ['email_subscribe', 'push_subscribe']), { email_subscribe: 'subscribed', push_subscribe: 'subscribed' });
});

test('current_location -> last_coordinates [longitude, latitude]; bad locations are errors', async () => {
  await api.trackOk({ attributes: [{ external_id: 'loc-1', current_location: { longitude: 2.3522, latitude: 48.8566 } }] }, { attributes_processed: 1, message: 'success' });
  assert.deepEqual(await api.user('loc-1', ['last_coordinates']), { last_coordinates: [2.3522, 48.8566] });
  await api.trackOk({ attributes: [{ external_id: 'loc-1', current_location: { latitude: -33, longitude: 151 } }] }, { attributes_processed: 1, message: 'success' });
  assert.deepEqual(await api.user('loc-1', ['last_coordinates']), { last_coordinates: [151, -33] });
  const LOC = "'current_location' must be an object with numeric 'longitude' and 'latitude'";
  const bad = [{ longitude: 1 }, { longitude: '1', latitude: 2 }, [1, 2], { longitude: 181, latitude: 0 }, { longitude: 0, latitude: 91 }];
  assertFatal(await api.track({ attributes: bad.map((l) => ({ external_id: 'loc-1', current_location: l })) }), bad.map((_, i) => err(LOC, 'attributes', i)));
  assert.deepEqual(await api.user('loc-1', ['last_coordinates']), { last_coordinates: [151, -33] });
});

test('other standard fields: email validity, language, time_zone, reserved names, $ names', async () => {
  await api.trackOk(
    { attributes: [{ external_id: 'misc-1', language: 'FR', time_zone: 'Europe/Paris', email: 'first.last+tag@sub.example.co.uk' }] },
    { attributes_processed: 1, message: 'success' },
  );
  assert.deepEqual(await api.user('misc-1', ['language', 'time_zone', 'email']), { email: 'first.last+tag@sub.example.co.uk', language: 'fr', time_zone: 'Europe/Paris' });
  // An invalid time zone is ignored (Braze), the rest of the object applies.
  await api.trackOk({ attributes: [{ external_id: 'misc-1', time_zone: 'Mars/Olympus', a: 1 }] }, { attributes_processed: 1, message: 'success' });
  assert.deepEqual(await api.user('misc-1', ['time_zone', 'custom_attributes']), { time_zone: 'Europe/Paris', custom_attributes: { a: 1 } });
  const bad = [
    [{ email: 'a@b' }, BAD_EMAIL],
    [{ email: '@b.com' }, BAD_EMAIL],
    [{ email: 'a b@c.com' }, BAD_EMAIL],
    [{ email: 5 }, BAD_EMAIL],
    [{ first_name: 5 }, "'first_name' must be a string"],
    [{ first_name: 'x'.repeat(256) }, "'first_name' must be 255 characters or fewer"],
    [{ total_revenue: 5 }, "'total_revenue' is a reserved attribute name"],
    [{ $engagement_hours: 'x' }, "'$engagement_hours' is a reserved attribute name"], // core/engage.h
    [{ $bad: 1 }, "'$bad' is not a valid attribute name: names are 1-255 characters and do not start with '$'"],
    [{ ['n'.repeat(256)]: 1 }, `'${'n'.repeat(64)}' is not a valid attribute name: names are 1-255 characters and do not start with '$'`],
  ];
  assertFatal(await api.track({ attributes: bad.map(([o]) => ({ external_id: 'misc-1', ...o })) }), bad.map(([, t], i) => err(t, 'attributes', i)));
  assert.deepEqual(await api.user('misc-1', ['email', 'first_name', 'custom_attributes']), { email: 'first.last+tag@sub.example.co.uk', custom_attributes: { a: 1 } });
});

// ---- keys ------------------------------------------------------------------

test('permissions: a key without users.track gets 403; X-RateLimit-Limit is 3000 on /users/track', async () => {
  const k = await h.createKey(srv, srv.key, { name: 'export-only', permissions: ['users.export.ids'] });
  const res = await h.request(srv, 'POST', '/users/track', { key: k.key, body: { attributes: [{ external_id: 'perm-1', a: 1 }] } });
  h.assertError(res, 403, "Access Denied: this API key does not have the 'users.track' permission");
  await api.none('perm-1');
  const t = await h.createKey(srv, srv.key, { name: 'track-only', permissions: ['users.track'] });
  const ok = await h.request(srv, 'POST', '/users/track', { key: t.key, body: { attributes: [{ external_id: 'perm-1', a: 1 }] } });
  assert.equal(ok.status, 201, ok.text);
  assert.deepEqual(ok.json, { attributes_processed: 1, message: 'success' });
  assert.equal(ok.headers.get('x-ratelimit-limit'), '3000');
  const remaining = Number(ok.headers.get('x-ratelimit-remaining'));
  assert.ok(Number.isInteger(remaining) && remaining >= 0 && remaining < 3000, ok.headers.get('x-ratelimit-remaining'));
  assert.match(ok.headers.get('x-ratelimit-reset'), /^\d+$/);
  assert.deepEqual(await attrs('perm-1'), { a: 1 });
  h.assertError(await h.request(srv, 'POST', '/users/track', { key: 'nope', body: { attributes: [] } }), 401, 'Invalid API key: nope');
  h.assertError(await h.request(srv, 'GET', '/users/track', { key: srv.key }), 405, /^Method Not Allowed/);
});

test('email identifier shared by several profiles: the one with an external_id wins', async () => {
  const email = 'pick@example.com';
  await api.trackOk({ attributes: [{ email, first_name: 'EmailOnly' }] }, { attributes_processed: 1, message: 'success' });
  await api.trackOk({ attributes: [{ external_id: 'pick-1', email, first_name: 'Identified' }] }, { attributes_processed: 1, message: 'success' });
  await api.trackOk({ attributes: [{ email, last_name: 'Picked' }] }, { attributes_processed: 1, message: 'success' });
  const res = await api.ok('/users/export/ids', { email_address: email, fields_to_export: ['external_id', 'first_name', 'last_name'] });
  const users = [...res.users].sort((a, b) => (a.first_name < b.first_name ? -1 : 1));
  assert.deepEqual(users, [{ first_name: 'EmailOnly' }, { external_id: 'pick-1', first_name: 'Identified', last_name: 'Picked' }]);
});

test('nested values over the limits: 100 KB per object, nesting depth', async () => {
  const big = {};
  for (let i = 0; i < 500; i++) big[`k${i}`] = 'x'.repeat(250); // ~130 KB, every string within 255
  let deep = { v: 1 };
  for (let i = 0; i < 40; i++) deep = { d: deep };
  assertFatal(
    await api.track({
      attributes: [
        { external_id: 'big-1', big },
        { external_id: 'big-1', list: Object.entries(big).map(([k, v]) => ({ [k]: v })) },
        { external_id: 'big-1', list: { $add: Object.entries(big).map(([k, v]) => ({ [k]: v })) } },
        { external_id: 'big-1', deep },
      ],
    }),
    [
      err("'big' is larger than 100 KB", 'attributes', 0),
      err("'list' is larger than 100 KB", 'attributes', 1),
      err("'list' is larger than 100 KB", 'attributes', 2),
      err("'deep' is nested too deeply", 'attributes', 3),
    ],
  );
  await api.none('big-1');
  // Event properties: at most 100 KB; purchase properties: at most 50 KB.
  const props = (kb) => Object.fromEntries(Array.from({ length: Math.ceil((kb * 1024) / 250) }, (_, i) => [`p${i}`, 'y'.repeat(240)]));
  const res = await api.track({
    events: [{ external_id: 'big-2', name: 'e', time: '2021-01-01T00:00:00Z', properties: props(101) }],
    purchases: [
      { external_id: 'big-2', product_id: 'p', currency: 'USD', price: 1, time: '2021-01-01T00:00:00Z', properties: props(51) },
      { external_id: 'big-2', product_id: 'p', currency: 'USD', price: 1, time: '2021-01-01T00:00:00Z', properties: props(40) },
    ],
  });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json, {
    events_processed: 0,
    purchases_processed: 1,
    message: 'success',
    errors: [err("'properties' must be at most 100 KB", 'events', 0), err("'properties' must be at most 50 KB", 'purchases', 0)],
  });
});

test('legacy api_key in the body authenticates /users/track', async () => {
  const res = await h.request(srv, 'POST', '/users/track', { body: { api_key: srv.key, attributes: [{ external_id: 'legacy-1', a: 1 }] } });
  assert.equal(res.status, 201, res.text);
  assert.deepEqual(res.json, { attributes_processed: 1, message: 'success' });
  assert.deepEqual(await attrs('legacy-1'), { a: 1 });
});
