import { isIPv6 } from 'node:net';

/**
 * The network a request comes from, as the sign-in throttle counts it: an IPv4 address as
 * is (also when written IPv4-mapped, `::ffff:10.0.0.1`), an IPv6 address by its /64, since
 * one host usually owns a whole /64 and could otherwise take a fresh address per guess.
 */
export function clientNetwork(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!isIPv6(ip)) return ip || 'unknown';
  return `${expandIPv6(ip).slice(0, 4).join(':')}::/64`;
}

/** `2001:db8::1` → eight hextets without leading zeros: ['2001','db8','0',…,'1']. */
function expandIPv6(ip: string): string[] {
  const [head = '', tail = ''] = ip.split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = ip.includes('::') && tail ? tail.split(':') : [];
  const zeros = Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0');
  return [...left, ...zeros, ...right].map((h) => h.toLowerCase().replace(/^0+(?=.)/, ''));
}
