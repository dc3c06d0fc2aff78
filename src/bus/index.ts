/**
 * The typed bus on RxJS: one topic grammar and matcher, a routing index, interceptors,
 * quotas. Arrives with the kernel issue; the folder exists so the layout and rules hold.
 */
export const BUS_READY = false as const;
