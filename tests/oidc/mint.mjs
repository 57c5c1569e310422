// Builds the tokens a real provider never issues, with a real JOSE library (jose).
// usage: node mint.mjs KIND JWKS_FILE CLAIMS_JSON
//   KIND: signed        RS256 with the provider's own private key (claims as given: expired, wrong iss...)
//         none          alg none, no signature
//         hs256-pubkey  HS256 whose HMAC key is the provider's public key (JWK JSON), the classic confusion
//         wrong-key     RS256 with a fresh key that claims the provider's kid
//         unknown-kid   RS256 with a fresh key and a kid the provider never published
// Prints the compact token on stdout.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { SignJWT, UnsecuredJWT, importJWK, calculateJwkThumbprint } from 'jose';

const [kind, jwksFile, claimsJson] = process.argv.slice(2);
const jwks = JSON.parse(fs.readFileSync(jwksFile, 'utf8'));
const jwk = jwks.keys[0];
const claims = JSON.parse(claimsJson);
const now = Math.floor(Date.now() / 1000);
const payload = { iat: now, exp: now + 300, ...claims };

async function rs256(key, keyId) {
  return new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: keyId }).sign(key);
}
const publicJwk = { kty: jwk.kty, n: jwk.n, e: jwk.e };
// oidc-provider publishes keys without a kid under their RFC 7638 thumbprint.
const realKid = jwk.kid || await calculateJwkThumbprint(publicJwk);

let token;
switch (kind) {
  case 'signed':
    token = await rs256(await importJWK(jwk, 'RS256'), realKid);
    break;
  case 'none':
    token = new UnsecuredJWT(payload).encode();
    break;
  case 'hs256-pubkey': {
    const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
    token = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: realKid }).sign(secret);
    break;
  }
  case 'wrong-key':
  case 'unknown-kid': {
    const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    token = await rs256(privateKey, kind === 'wrong-key' ? realKid : 'never-published');
    break;
  }
  default:
    console.error(`unknown kind ${kind}`);
    process.exit(2);
}
process.stdout.write(token);
