// Package quote signs and verifies price quotes: a token that a checkout
// can check offline, with nothing but the shared secret, to know that a
// price was given by this service, for whom, and until when.
//
// # Token format (version 1)
//
//	v1.<kid>.<payload>.<mac>
//
// "v1" is the format version; a verifier refuses any other. <kid> is the
// key id: 1..[MaxKeyIDLen] bytes of A-Z a-z 0-9 _ -. <payload> is the
// base64url encoding without padding (RFC 4648 section 5) of a JSON
// object whose members come in this order:
//
//	{"id":"q2Zt8y1xAAAAAAAB","issued_at":1765095600,"expires_at":1765096500,"product_id":"P-123","user_location":"NY","is_prime_member":true,"final_price":45.12}
//
// id is the quote's id (16 base64url characters, unique per quote: a
// checkout that honours each quote once can keep the ids it has seen
// until they expire); issued_at and expires_at are Unix seconds; product_id and user_location
// are the request's, as decoded; final_price is the price as the reply
// writes it (shortest decimal form). When the price was made by rules,
// "list_price" and "ruleset_version" follow final_price. <mac> is the
// base64url encoding without padding of HMAC-SHA256(secret of kid,
// "v1.<kid>.<payload>") (RFC 2104): the version, the key id and the
// payload, exactly as they stand in the token, are signed.
//
// A verifier splits the token on '.', looks the key up by <kid>, compares
// the MAC it computes with <mac> in constant time (hmac.Equal), and only
// then decodes the payload and compares expires_at with its clock. The
// repository's docs/QUOTES.md shows it in Go and with openssl.
//
// # Keys
//
// A [Keyring] holds the keys: a file of lines "<kid> <base64 secret>"
// ('#' starts a comment line), secrets of [MinSecretLen] to
// [MaxSecretLen] bytes. The first key signs; every key verifies, so a
// rotation adds the new key as the first line, keeps the old one until
// the quotes it signed have expired, then removes it. The file is re-read
// when it changes ([Keyring.Watch]); a bad file leaves the keys in use.
// Secrets are never logged nor put in errors.
//
// # Cost
//
// A [Signer] (one per event loop, not safe for concurrent use) writes the
// quote object straight into the reply buffer and keeps one HMAC state,
// reset per quote: signing does not allocate. A [Verifier] likewise keeps
// one HMAC state per key.
package quote
