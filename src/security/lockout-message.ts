/**
 * What a locked-out person is told, on the login form and in the account center alike:
 * that they are locked out and when they can try again, in words ("in 4 minutes").
 */
export function lockedOutMessage(retryAfterSeconds: number): string {
  return `Too many failed sign-in attempts. Try again in ${waitInWords(retryAfterSeconds)}.`;
}

/** Rounded up, so the person never comes back too early: 61 s is "2 minutes". */
export function waitInWords(seconds: number): string {
  if (seconds < 60) return plural(Math.max(1, Math.ceil(seconds)), 'second');
  if (seconds < 60 * 60) return plural(Math.ceil(seconds / 60), 'minute');
  return plural(Math.ceil(seconds / 3600), 'hour');
}

function plural(count: number, unit: string): string {
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}
