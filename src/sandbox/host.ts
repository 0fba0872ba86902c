const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** A name or address that only reaches this machine (what the sandbox binds to and answers on). */
export const isLoopbackHost = (h: string) => LOOPBACK_HOSTS.has(h.toLowerCase()) || /^127(\.\d{1,3}){3}$/.test(h);
