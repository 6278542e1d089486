// One whole ACME issuance with the test client: order, answer one challenge per authorization,
// finalize, download. `issueCertificate` answers http-01; `issueCertificateWith` takes a solver
// that provisions any challenge type and says which challenge to answer.
import type { TestAcmeClient } from './acme.js';
import { makeCsr, type CsrOptions } from './csr.js';

export interface Responder {
  set(token: string, body: string): void;
}

export interface ChallengeJson {
  type: string;
  url: string;
  token: string;
  status: string;
}

export interface AuthorizationJson {
  identifier: { type: string; value: string };
  status: string;
  wildcard?: boolean;
  challenges: ChallengeJson[];
}

/** Provisions the response for one authorization and returns the challenge to answer. */
export type Solver = (authz: AuthorizationJson, client: TestAcmeClient) => Promise<ChallengeJson> | ChallengeJson;

export const http01Solver =
  (responder: Responder): Solver =>
  (authz, client) => {
    const ch = authz.challenges.find((c) => c.type === 'http-01')!;
    responder.set(ch.token, client.keyAuthorization(ch.token));
    return ch;
  };

export async function issueCertificate(client: TestAcmeClient, responder: Responder, identifiers: { type: string; value: string }[], csr: CsrOptions = {}) {
  return issueCertificateWith(client, identifiers, http01Solver(responder), csr);
}

export async function issueCertificateWith(client: TestAcmeClient, identifiers: { type: string; value: string }[], solve: Solver, csr: CsrOptions = {}) {
  const created = await client.newOrder(identifiers);
  if (created.status !== 201) throw new Error(`newOrder: ${created.status} ${created.text}`);
  const orderUrl = created.headers.location as string;
  const authorizations: AuthorizationJson[] = [];
  for (const authzUrl of created.json.authorizations as string[]) {
    const authz = (await client.post(authzUrl, '')).json as AuthorizationJson;
    authorizations.push(authz);
    const ch = await solve(authz, client);
    const answered = await client.post(ch.url, {});
    if (answered.status !== 200) throw new Error(`challenge: ${answered.status} ${answered.text}`);
  }
  const ready = await client.poll(orderUrl);
  if (ready.status !== 'ready') throw new Error(`order is ${ready.status}: ${JSON.stringify(ready.error)}`);
  const { b64url, key } = await makeCsr({
    dns: identifiers.filter((i) => i.type === 'dns').map((i) => i.value),
    ips: identifiers.filter((i) => i.type === 'ip').map((i) => i.value),
    ...csr,
  });
  const fin = await client.post(ready.finalize, { csr: b64url });
  if (fin.status !== 200) throw new Error(`finalize: ${fin.status} ${fin.text}`);
  const done = fin.json.status === 'valid' ? fin.json : await client.poll(orderUrl);
  const cert = await client.post(done.certificate, '');
  return { orderUrl, order: done, authorizations, chainPem: cert.text, certKey: key, certResponse: cert };
}
