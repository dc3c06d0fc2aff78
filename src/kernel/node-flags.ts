/**
 * Node flags the daemon runs with (given when `astrid start` launches it; under a supervisor
 * running `start --foreground`, pass them to node or through NODE_OPTIONS). A young
 * generation of 32 MiB per semi-space instead of V8's default 16: with thousands of ledger
 * appends in flight, their promises and results outlive a 16 MiB scavenge, get promoted,
 * and cost full collections; at 32 MiB they die young. About 0.1 GB more address space at
 * most, used only under load. `npm run bench` runs with the same flags.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32'];
