import { defaults } from '../../config/defaults.js';
import { duplicateField, type AccountRecord } from '../db/models/account.js';
import { clientNetwork } from '../security/client-network.js';
import { checkPassword } from '../security/password-policy.js';
import type { Origin, SelfServiceDeps } from './deps.js';
import { sendVerification } from './email-verification.js';

export interface SignUpInput {
  username: string;
  email: string;
  password: string;
  name?: string;
}

export type SignUpField = 'username' | 'email' | 'password' | 'form';

export type SignUpOutcome =
  | { ok: true; account: AccountRecord; verificationSent: boolean }
  | { ok: false; field: SignUpField; message: string; status: number };

/** The form must say which field to change, and no more: not who holds the name or address. */
export const TAKEN: Record<'username' | 'email', string> = {
  username: 'This username is taken. Choose another one.',
  email: 'This email address is already registered. Sign in, or use "Forgot password?" if it is yours.',
};
const TOO_MANY = 'Too many sign-ups from your network. Try again later.';

/**
 * Creates an account from the sign-up form: rate limited per client network (every attempt counts, so
 * probing which names are taken costs the same), the shared password policy, unique
 * username and email (the unique indexes decide races), then the verification mail.
 */
export async function signUp(deps: SelfServiceDeps, input: SignUpInput, origin: Origin): Promise<SignUpOutcome> {
  if (!(await deps.limits.allow(`signup-net:${clientNetwork(origin.ip)}`, defaults.rateLimits.signUpPerNetwork))) {
    return { ok: false, field: 'form', message: TOO_MANY, status: 429 };
  }
  const email = input.email.toLowerCase();
  const violation = await checkPassword(input.password, { username: input.username, email });
  if (violation) return { ok: false, field: 'password', message: violation.message, status: 400 };
  const model = deps.accounts.model;
  if (await model.exists({ username: { $eq: input.username } })) return taken('username');
  if (await model.exists({ email: { $eq: email } })) return taken('email');

  let account: AccountRecord;
  try {
    account = await deps.accounts.create({ username: input.username, email, password: input.password, name: input.name });
  } catch (err) {
    const field = duplicateField(err);
    if (field) return taken(field);
    throw err;
  }
  await deps.events.record('user.signed_up', { accountId: account._id, ip: origin.ip, userAgent: origin.userAgent });
  return { ok: true, account, verificationSent: await sendVerification(deps, account) };
}

function taken(field: 'username' | 'email'): SignUpOutcome {
  return { ok: false, field, message: TAKEN[field], status: 409 };
}
