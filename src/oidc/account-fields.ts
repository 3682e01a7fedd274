import { z } from 'zod';

/** The shape of account fields wherever a person or an operator types them (admin API,
 * sign-up form). Passwords are bounded only: the password policy decides the rest. */
export const usernameField = z.string().trim().min(1).max(128).regex(/^[\w.@+-]+$/, 'may only contain letters, digits and . @ + - _');
export const passwordField = z.string().max(1024);
export const emailField = z.email().max(320);
export const nameField = z.string().trim().min(1).max(256);
