// Package panel serves the organization settings page for LRS
// integrations: the LRS Set Up form (Integration Label, xAPI Version,
// Endpoint URL, authentication), Test Connection that saves and activates
// the integration when every step passes, the delivery status in plain
// words and the dead letters. The page is rendered on the server; its
// script and style are embedded and it loads nothing from elsewhere.
//
// The handler serves the page and, below it, the admin API of package
// httpapi (at {prefix}/api), both behind the same Authorizer: mount it
// under any prefix of an application's pages.
package panel
