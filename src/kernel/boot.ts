/** The Astrid version the kernel records at boot (`kernel.boot`) and reports in `astrid status`. */
export const ASTRID_VERSION = '0.1.0';
