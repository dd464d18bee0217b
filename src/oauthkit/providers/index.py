"""Each preset's name and aliases, protocol and options, as plain data for the one reader of
the configuration (:mod:`oauthkit.config.file`), which must stay cheap to import: the command's
fast path reads the configuration too. The presets themselves (:mod:`.presets`) are the
source; a test checks that this table says exactly what they say.
"""

from __future__ import annotations

__all__ = ["INDEX"]

#: Lower-cased name or alias → (preset name, protocol, option names).
INDEX: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "atlassian": ("atlassian", "oauth2", ()),
    "auth0": ("auth0", "oauth2", ("domain",)),
    "azure": ("microsoft", "oauth2", ("tenant",)),
    "azuread": ("microsoft", "oauth2", ("tenant",)),
    "box": ("box", "oauth2", ()),
    "confluence": ("atlassian", "oauth2", ()),
    "discord": ("discord", "oauth2", ()),
    "dropbox": ("dropbox", "oauth2", ()),
    "ebay": ("ebay", "oauth2", ("auth_host", "api_host")),
    "entra": ("microsoft", "oauth2", ("tenant",)),
    "etsy": ("etsy", "oauth2", ()),
    "facebook": ("facebook", "oauth2", ("version",)),
    "fitbit": ("fitbit", "oauth2", ()),
    "flickr": ("flickr", "oauth1", ()),
    "garmin": ("garmin", "oauth1", ()),
    "github": ("github", "oauth2", ()),
    "gitlab": ("gitlab", "oauth2", ("base",)),
    "google": ("google", "oauth2", ()),
    "intuit": ("intuit", "oauth2", ("api_host",)),
    "jira": ("atlassian", "oauth2", ()),
    "keycloak": ("keycloak", "oauth2", ("base", "realm")),
    "linkedin": ("linkedin", "oauth2", ()),
    "meta": ("facebook", "oauth2", ("version",)),
    "microsoft": ("microsoft", "oauth2", ("tenant",)),
    "notion": ("notion", "oauth2", ()),
    "oidc": ("oidc", "oauth2", ("issuer",)),
    "okta": ("okta", "oauth2", ("issuer",)),
    "quickbooks": ("intuit", "oauth2", ("api_host",)),
    "reddit": ("reddit", "oauth2", ()),
    "salesforce": ("salesforce", "oauth2", ("base",)),
    "slack": ("slack", "oauth2", ()),
    "spotify": ("spotify", "oauth2", ()),
    "strava": ("strava", "oauth2", ()),
    "trello": ("trello", "oauth1", ()),
    "tumblr": ("tumblr", "oauth1", ()),
    "twitch": ("twitch", "oauth2", ()),
    "twitter": ("x", "oauth2", ()),
    "twitter-oauth1": ("x-oauth1", "oauth1", ()),
    "x": ("x", "oauth2", ()),
    "x-oauth1": ("x-oauth1", "oauth1", ()),
    "xero": ("xero", "oauth2", ()),
    "zoom": ("zoom", "oauth2", ()),
}
