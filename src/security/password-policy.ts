import { defaults } from '../../config/defaults.js';

/** Who the password is for: a password equal to one of these is refused. */
export interface PasswordOwner {
  username?: string;
  email?: string | null;
}

export type PasswordRule = 'too_short' | 'too_long' | 'is_username' | 'is_email' | 'common';

/** The first rule a candidate password breaks, with the sentence a person is shown. */
export interface PasswordViolation {
  rule: PasswordRule;
  message: string;
}

const { minLength, maxLength } = defaults.passwordPolicy;

/**
 * The one password policy (NIST SP 800-63B 5.1.1.2), shared by the admin API, sign-up,
 * password reset and the account center: length in characters, not the username or
 * email, and not in a list of commonly used passwords. No composition rules, on purpose.
 */
export async function checkPassword(password: string, owner: PasswordOwner = {}): Promise<PasswordViolation | undefined> {
  // Characters as people count them: an emoji is one, not two UTF-16 units.
  const length = [...password.normalize('NFC')].length;
  if (length < minLength) return { rule: 'too_short', message: `Use at least ${minLength} characters.` };
  if (length > maxLength) return { rule: 'too_long', message: `Use at most ${maxLength} characters.` };
  const folded = password.toLowerCase();
  if (owner.username && folded === owner.username.toLowerCase()) {
    return { rule: 'is_username', message: 'Your password must not be your username.' };
  }
  if (owner.email && folded === owner.email.toLowerCase()) {
    return { rule: 'is_email', message: 'Your password must not be your email address.' };
  }
  if ((await commonPasswords()).has(folded)) {
    return { rule: 'common', message: 'This password is too common. Choose one that is harder to guess.' };
  }
  return undefined;
}

let common: Promise<Set<string>> | undefined;

/** zxcvbn-ts's list of frequently used passwords (about 49,000, lower case), loaded on
 * first use so processes that never set a password do not hold it in memory. Entries
 * shorter than the minimum are already refused by length. */
function commonPasswords(): Promise<Set<string>> {
  common ??= import('@zxcvbn-ts/language-common').then(({ dictionary }) =>
    new Set(dictionary['passwords-common'].filter((p) => p.length >= minLength)));
  return common;
}
