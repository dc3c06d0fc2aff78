/**
 * Actors: XState machines for capsules, principals, sessions and approval gates, and the
 * actor system rebuilt from the ledger. Arrives with the sandbox, authority and kernel issues;
 * this folder exists now so the layout and the dependency rules are in place.
 */
export const ACTORS_READY = false as const;
