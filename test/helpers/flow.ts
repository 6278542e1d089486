// One whole ACME issuance with the test client: order, answer http-01, finalize, download.
import type { TestAcmeClient } from './acme.js';
import { makeCsr, type CsrOptions } from './csr.js';

export interface Responder {
  set(token: string, body: string): void;
}

export async function issueCertificate(client: TestAcmeClient, responder: Responder, identifiers: { type: string; value: string }[], csr: CsrOptions = {}) {
  const created = await client.newOrder(identifiers);
  if (created.status !== 201) throw new Error(`newOrder: ${created.status} ${created.text}`);
  const orderUrl = created.headers.location as string;
  for (const authzUrl of created.json.authorizations as string[]) {
    const authz = (await client.post(authzUrl, '')).json;
    const ch = authz.challenges.find((c: { type: string }) => c.type === 'http-01');
    responder.set(ch.token, client.keyAuthorization(ch.token));
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
  return { orderUrl, order: done, chainPem: cert.text, certKey: key, certResponse: cert };
}
