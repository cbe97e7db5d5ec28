// Package console serves the pricing console: one page (HTML, JavaScript
// and CSS embedded in the binary, no CDN, no build step) on the admin
// listener at /console, for a pricing analyst. It finds a product, shows
// its price in every market through the admin listener's twin of the
// price API (with the rules' explanation when rules are on), changes a
// base price or a market multiplier through the admin write API
// (/admin/v1/, If-Match from the GET's ETag), shows the audit trail and
// reverts to an earlier version.
//
// The admin token is typed into the page and kept in a JavaScript
// variable only: never in localStorage, sessionStorage, a cookie or the
// URL. Reloading the page forgets it. The page talks only to its own
// origin, which its Content-Security-Policy enforces.
package console
