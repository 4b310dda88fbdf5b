// An RSA key pair for the test control plane's service-account token signing (devx itself never needs one).
import forge from 'node-forge';

/** An RSA key pair in PEM (PKCS#8 public, PKCS#1 private). */
export function generateRsaKeyPem(bits = 2048): { publicKeyPem: string; privateKeyPem: string } {
  const keys = forge.pki.rsa.generateKeyPair({ bits, e: 0x10001 });
  return { publicKeyPem: forge.pki.publicKeyToPem(keys.publicKey), privateKeyPem: forge.pki.privateKeyToPem(keys.privateKey) };
}
