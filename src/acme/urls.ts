// Every ACME URL the server hands out (RFC 8555 §7.1). Paths are fixed here and nowhere else.

export const paths = {
  directory: '/directory',
  newNonce: '/acme/new-nonce',
  newAccount: '/acme/new-account',
  newOrder: '/acme/new-order',
  newAuthz: '/acme/new-authz',
  revokeCert: '/acme/revoke-cert',
  keyChange: '/acme/key-change',
  /** RFC 9773 §4.1: GET {renewalInfo}/{certID}, unauthenticated. */
  renewalInfo: '/acme/renewal-info',
  renewalInfoCert: '/acme/renewal-info/:certId',
  account: '/acme/acct/:id',
  accountOrders: '/acme/acct/:id/orders',
  order: '/acme/order/:id',
  finalize: '/acme/order/:id/finalize',
  authz: '/acme/authz/:id',
  challenge: '/acme/chall/:id',
  certificate: '/acme/cert/:serial',
  /** RFC 8555 §7.4.2: alternate chain n (1, 2, …) of a certificate, linked rel="alternate". */
  certificateChain: '/acme/cert/:serial/:chain',
  roots: '/ca/roots.pem',
  intermediates: '/ca/intermediates.pem',
  // Revocation status, written into every certificate (RFC 5280 §4.2.1.13, §4.2.2.1): keep stable.
  issuerCert: '/ca/issuer.der',
  crl: '/crl/:issuer.crl',
  /** POST, or RFC 6960 Appendix A.1's GET {url}/{url-encoding of base64 of the DER OCSPRequest}. */
  ocsp: '/ocsp',
} as const;

export class AcmeUrls {
  constructor(readonly base: string) {}

  private u(path: string, param?: string): string {
    return this.base + (param === undefined ? path : path.replace(/:\w+/, encodeURIComponent(param)));
  }

  get directory() {
    return this.u(paths.directory);
  }
  get newNonce() {
    return this.u(paths.newNonce);
  }
  get newAccount() {
    return this.u(paths.newAccount);
  }
  get newOrder() {
    return this.u(paths.newOrder);
  }
  get newAuthz() {
    return this.u(paths.newAuthz);
  }
  get revokeCert() {
    return this.u(paths.revokeCert);
  }
  get keyChange() {
    return this.u(paths.keyChange);
  }
  get renewalInfo() {
    return this.u(paths.renewalInfo);
  }
  account = (id: string) => this.u(paths.account, id);
  accountOrders = (id: string) => this.u(paths.accountOrders, id);
  order = (id: string) => this.u(paths.order, id);
  finalize = (id: string) => this.u(paths.finalize, id);
  authz = (id: string) => this.u(paths.authz, id);
  challenge = (id: string) => this.u(paths.challenge, id);
  certificate = (serial: string) => this.u(paths.certificate, serial);
  certificateChain = (serial: string, chain: number) => `${this.certificate(serial)}/${chain}`;
  get issuerCert() {
    return this.u(paths.issuerCert);
  }
  crl = (issuerId: string) => this.u(paths.crl, issuerId);
  get ocsp() {
    return this.u(paths.ocsp);
  }

  /** The account id in a `kid` (RFC 8555 §6.2), or undefined when it is not one of our account URLs. */
  accountIdFromKid(kid: string): string | undefined {
    const prefix = this.u(paths.account, '');
    if (!kid.startsWith(prefix)) return undefined;
    const id = kid.slice(prefix.length);
    return /^[A-Za-z0-9_-]{1,64}$/.test(id) ? id : undefined;
  }
}
