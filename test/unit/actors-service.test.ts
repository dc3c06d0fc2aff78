// Proves: a service actor is idle with nothing in flight and serving otherwise, counts what it served and what failed (with the last failure's code), and stops.
import {describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {ActorRegistry, SERVICE_NAMES, startServiceActor} from '../../src/actors/index.js';

describe('service actor', () => {
  it('idle -> serving while requests are in flight -> idle when the last is done; counts and the last failure', () => {
    const a = startServiceActor('fs.write');
    const snap = () => a.getSnapshot();
    assert.equal(snap().value, 'idle');
    a.send({type: 'REQUEST'});
    a.send({type: 'REQUEST'});
    assert.deepEqual([snap().value, snap().context.inFlight], ['serving', 2]);
    a.send({type: 'DONE', ok: true, code: ''});
    assert.deepEqual([snap().value, snap().context.inFlight, snap().context.served], ['serving', 1, 1]);
    a.send({type: 'DONE', ok: false, code: 'GATE_DENIED'});
    assert.deepEqual([snap().value, snap().context.inFlight, snap().context.served, snap().context.failed, snap().context.lastFailure], ['idle', 0, 1, 1, 'GATE_DENIED']);
    a.send({type: 'DONE', ok: true, code: ''}); // a stray DONE while idle changes nothing
    assert.deepEqual([snap().value, snap().context.served, snap().context.inFlight], ['idle', 1, 0]);
    a.send({type: 'STOP'});
    assert.equal(snap().status, 'done');
  });

  it('the registry shows one per kernel service', () => {
    const r = new ActorRegistry();
    for (const n of SERVICE_NAMES) r.add(`service:${n}`, 'service', startServiceActor(n));
    assert.deepEqual(SERVICE_NAMES, ['fs.write', 'http', 'approval', 'spawn']);
    assert.deepEqual(r.view('service:http'), {id: 'service:http', kind: 'service', state: 'idle', context: {name: 'http', inFlight: 0, served: 0, failed: 0, lastFailure: undefined}});
    r.stopAll();
  });
});
