const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/**
 * A name or address that only reaches this machine (what the sandbox and its emulated Slack bind
 * to and answer on). A leaf module: the emulator's Host check uses it too.
 */
export const isLoopbackHost = (h: string) => LOOPBACK_HOSTS.has(h.toLowerCase()) || /^127(\.\d{1,3}){3}$/.test(h);
