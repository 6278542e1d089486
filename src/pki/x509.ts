// @peculiar/x509 needs a Reflect metadata polyfill loaded before it (its README) and a WebCrypto
// provider; every module that builds or reads X.509 structures imports the library from here.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
