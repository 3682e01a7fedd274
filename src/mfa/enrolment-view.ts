import QRCode from 'qrcode';

import type { Factors } from './factors.js';

/** What an enrolment page shows: the QR code (an SVG data URI, so no request leaves the
 * page) and the same secret as text, grouped for typing into an app by hand. */
export interface EnrolmentView {
  qr: string;
  secret: string;
}

/** The enrolment in progress for the account, or a new one. */
export async function enrolmentView(factors: Factors, accountId: string, issuer: string, username: string): Promise<EnrolmentView> {
  const label = username;
  const enrolment = (await factors.pendingTotp(accountId, issuer, label)) ?? (await factors.startTotp(accountId, issuer, label));
  const svg = await QRCode.toString(enrolment.uri, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
  return {
    qr: `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`,
    secret: enrolment.secret.match(/.{1,4}/g)!.join(' '),
  };
}
