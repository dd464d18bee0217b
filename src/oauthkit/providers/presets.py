"""The preset table: one :class:`~oauthkit.providers.preset.Preset` per provider, as data.

Facts come from each provider's own OAuth documentation (the ``docs`` URL of each entry).
Loaded on first use by :func:`oauthkit.providers.get`; nothing here performs I/O.

Names: ``x`` is X (Twitter) with OAuth 2 + PKCE; ``x-oauth1`` is X with OAuth 1.0a (callback
or PIN). ``oidc`` is any issuer with discovery; ``microsoft`` also answers to ``entra``.
"""

from __future__ import annotations

from typing import Final

from . import quirks as q
from .preset import Preset, WhoAmI

__all__ = ["PRESETS"]

_FIXED = (
    "http://127.0.0.1:PORT/callback with a fixed PORT that you set as redirect_port in the "
    "configuration (the provider compares the whole URI, port included)"
)

PRESETS: Final[tuple[Preset, ...]] = (
    # ------------------------------------------------------------------------- GitHub
    Preset(
        name="github",
        title="GitHub",
        protocol="oauth2",
        docs="https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps",
        register=(
            "An OAuth app (or a GitHub App) with the authorization callback URL "
            "http://127.0.0.1/callback: for a loopback callback GitHub accepts any port. "
            "Tick 'Enable Device Flow' for `oauthkit login --device`. Scopes are asked at "
            "sign-in (read:user by default)."
        ),
        authorization_endpoint="https://github.com/login/oauth/authorize",
        token_endpoint="https://github.com/login/oauth/access_token",
        device_authorization_endpoint="https://github.com/login/device/code",
        scope="read:user",
        pkce_documented=True,
        auth_method="client_secret_post",
        device=True,
        refresh=True,
        rotating_refresh=True,
        api_base="https://api.github.com/",
        whoami=WhoAmI("user", "id", email="email", name=("name", "login"), picture="avatar_url"),
        hooks=(q.GITHUB_FORM_RESPONSE, q.ERROR_WITH_200, q.GITHUB_ERROR_CODES),
        loopback_any_port=True,
        notes=(
            "OAuth app tokens do not expire; GitHub App user tokens expire after 8 hours and "
            "come with a single-use refresh token."
        ),
    ),
    # ------------------------------------------------------------------------- Google
    Preset(
        name="google",
        title="Google",
        protocol="oauth2",
        docs="https://developers.google.com/identity/protocols/oauth2/native-app",
        register=(
            "An OAuth client ID of type 'Desktop app' in the Google Cloud console (Credentials): "
            "desktop clients accept http://127.0.0.1:<any port>/ without registering it. For "
            "the device flow create a 'TVs and Limited Input devices' client. Enable the APIs "
            "you call and add their scopes on the OAuth consent screen."
        ),
        issuer=None,
        authorization_endpoint="https://accounts.google.com/o/oauth2/v2/auth",
        token_endpoint="https://oauth2.googleapis.com/token",
        device_authorization_endpoint="https://oauth2.googleapis.com/device/code",
        revocation_endpoint="https://oauth2.googleapis.com/revoke",
        userinfo_endpoint="https://openidconnect.googleapis.com/v1/userinfo",
        scope="openid email profile",
        pkce_documented=True,
        auth_method="client_secret_post",
        device=True,
        refresh=True,
        api_base="https://www.googleapis.com/",
        whoami=WhoAmI(
            "https://openidconnect.googleapis.com/v1/userinfo",
            "sub",
            email="email",
            email_verified="email_verified",
            name=("name",),
            picture="picture",
        ),
        hooks=(q.GOOGLE_OFFLINE, q.GOOGLE_DEVICE_VERIFICATION_URL),
        loopback_any_port=True,
    ),
    # ------------------------------------------------------------------------- Microsoft
    Preset(
        name="microsoft",
        title="Microsoft identity platform (Entra ID, personal accounts)",
        protocol="oauth2",
        aliases=("entra", "azure", "azuread"),
        docs="https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow",
        register=(
            "An app registration in the Entra admin center with the platform 'Mobile and "
            "desktop applications' and the redirect URI http://localhost (the port of a "
            'loopback redirect is ignored; set redirect_host = "localhost" if you register '
            "localhost rather than 127.0.0.1). Allow public client flows for the device flow. "
            "Add the Microsoft Graph delegated permissions you use (User.Read)."
        ),
        authorization_endpoint="https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize",
        token_endpoint="https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
        device_authorization_endpoint=(
            "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode"
        ),
        scope="openid profile offline_access User.Read",
        pkce_documented=True,
        auth_method="client_secret_post",
        device=True,
        refresh=True,
        rotating_refresh=True,
        api_base="https://graph.microsoft.com/v1.0/",
        whoami=WhoAmI("me", "id", email="mail", name=("displayName", "userPrincipalName")),
        claims_id="oid",
        hooks=(q.MICROSOFT_OFFLINE_ACCESS,),
        defaults={"tenant": "common"},
        options={
            "tenant": "a tenant id or domain, or common, organizations, consumers",
        },
        loopback_any_port=True,
        notes="Each refresh answers a new refresh token; keep the newest.",
    ),
    # ------------------------------------------------------------------------- X / Twitter
    Preset(
        name="x",
        title="X (Twitter), OAuth 2.0 with PKCE",
        protocol="oauth2",
        aliases=("twitter",),
        docs="https://docs.x.com/fundamentals/authentication/oauth-2-0/authorization-code",
        register=(
            "In the developer portal, set up 'User authentication' with OAuth 2.0 and type "
            "'Native App' (public) or 'Web App' (confidential), and the callback URI "
            + _FIXED
            + ". Scopes: tweet.read users.read, and offline.access for a refresh token."
        ),
        authorization_endpoint="https://x.com/i/oauth2/authorize",
        token_endpoint="https://api.x.com/2/oauth2/token",
        revocation_endpoint="https://api.x.com/2/oauth2/revoke",
        scope="tweet.read users.read offline.access",
        pkce_documented=True,
        pkce_required=True,
        auth_method="client_secret_basic",
        refresh=True,
        rotating_refresh=True,
        api_base="https://api.x.com/2/",
        whoami=WhoAmI(
            "users/me?user.fields=profile_image_url",
            "data.id",
            name=("data.name", "data.username"),
            picture="data.profile_image_url",
        ),
    ),
    Preset(
        name="x-oauth1",
        title="X (Twitter), OAuth 1.0a (callback or PIN)",
        protocol="oauth1",
        aliases=("twitter-oauth1",),
        docs="https://docs.x.com/fundamentals/authentication/oauth-1-0a/obtaining-user-access-tokens",
        register=(
            "In the developer portal, set up 'User authentication' with OAuth 1.0a and the "
            "callback URL " + _FIXED + " (X asks for 127.0.0.1 rather than localhost); "
            "`oauthkit login x-oauth1 --pin` uses the PIN (oob) flow instead. App "
            "permissions (read, write, DMs) are set there."
        ),
        request_token_url="https://api.x.com/oauth/request_token",
        authorize_url="https://api.x.com/oauth/authorize",
        access_token_url="https://api.x.com/oauth/access_token",
        pin=True,
        api_base="https://api.x.com/",
        whoami=WhoAmI(
            "1.1/account/verify_credentials.json",
            "id_str",
            name=("name", "screen_name"),
            picture="profile_image_url_https",
        ),
        oauth1_id="user_id",
    ),
    # ------------------------------------------------------------------------- Dropbox
    Preset(
        name="dropbox",
        title="Dropbox",
        protocol="oauth2",
        docs="https://developers.dropbox.com/oauth-guide",
        register=(
            "An app in the App Console with the redirect URI " + _FIXED + "; enable the "
            "permissions (scopes) you use, e.g. account_info.read files.metadata.read."
        ),
        authorization_endpoint="https://www.dropbox.com/oauth2/authorize",
        token_endpoint="https://api.dropboxapi.com/oauth2/token",
        scope="account_info.read",
        pkce_documented=True,
        auth_method="client_secret_basic",
        refresh=True,
        api_base="https://api.dropboxapi.com/2/",
        whoami=WhoAmI(
            "users/get_current_account",
            "account_id",
            email="email",
            email_verified="email_verified",
            name=("name.display_name",),
            picture="profile_photo_url",
            method="POST",
        ),
        hooks=(q.DROPBOX_OFFLINE,),
    ),
    # ------------------------------------------------------------------------- Slack
    Preset(
        name="slack",
        title="Slack (user tokens)",
        protocol="oauth2",
        docs="https://docs.slack.dev/authentication/installing-with-oauth",
        register=(
            "A Slack app with a redirect URL under 'OAuth & Permissions' (Slack asks for "
            "https redirect URLs: use a tunnel to the loopback port, or the library with your "
            "own https callback) and the User Token Scopes you use (users:read)."
        ),
        authorization_endpoint="https://slack.com/oauth/v2/authorize",
        token_endpoint="https://slack.com/api/oauth.v2.access",
        scope="users:read",
        auth_method="client_secret_basic",
        refresh=True,
        rotating_refresh=True,
        api_base="https://slack.com/api/",
        whoami=WhoAmI("auth.test", "user_id", tenant=("enterprise_id", "team_id"), name=("user",)),
        hooks=(q.SLACK_USER_SCOPE, q.SLACK_OK_FALSE, q.SLACK_AUTHED_USER, q.SLACK_TOKEN_TYPE),
        notes="Refresh tokens exist when token rotation is turned on for the app.",
    ),
    # ------------------------------------------------------------------------- Discord
    Preset(
        name="discord",
        title="Discord",
        protocol="oauth2",
        docs="https://discord.com/developers/docs/topics/oauth2",
        register="An application with the OAuth2 redirect " + _FIXED + "; scope identify.",
        authorization_endpoint="https://discord.com/oauth2/authorize",
        token_endpoint="https://discord.com/api/oauth2/token",
        revocation_endpoint="https://discord.com/api/oauth2/token/revoke",
        scope="identify",
        auth_method="client_secret_basic",
        refresh=True,
        api_base="https://discord.com/api/",
        whoami=WhoAmI(
            "users/@me",
            "id",
            email="email",
            email_verified="verified",
            name=("global_name", "username"),
        ),
    ),
    # ------------------------------------------------------------------------- GitLab
    Preset(
        name="gitlab",
        title="GitLab (gitlab.com or self-hosted)",
        protocol="oauth2",
        docs="https://docs.gitlab.com/api/oauth2/",
        register=(
            "An application (User settings > Applications, or a group's or the instance's) "
            "with the redirect URI " + _FIXED + ", 'Confidential' unticked for a public client, "
            "and the scope read_user."
        ),
        authorization_endpoint="{base}/oauth/authorize",
        token_endpoint="{base}/oauth/token",
        device_authorization_endpoint="{base}/oauth/authorize_device",
        revocation_endpoint="{base}/oauth/revoke",
        userinfo_endpoint="{base}/oauth/userinfo",
        scope="read_user",
        pkce_documented=True,
        auth_method="client_secret_post",
        device=True,
        refresh=True,
        rotating_refresh=True,
        api_base="{base}/api/v4/",
        whoami=WhoAmI("user", "id", email="email", name=("name", "username"), picture="avatar_url"),
        defaults={"base": "https://gitlab.com"},
        options={"base": "the instance's URL, e.g. https://gitlab.example.com"},
        notes="Access tokens expire after two hours; each refresh answers a new refresh token.",
    ),
    # ------------------------------------------------------------------------- Spotify
    Preset(
        name="spotify",
        title="Spotify",
        protocol="oauth2",
        docs="https://developer.spotify.com/documentation/web-api/tutorials/code-pkce-flow",
        register=(
            "An app in the developer dashboard with the redirect URI " + _FIXED + " (Spotify "
            "accepts http only on a loopback IP literal, not on localhost)."
        ),
        authorization_endpoint="https://accounts.spotify.com/authorize",
        token_endpoint="https://accounts.spotify.com/api/token",
        scope="user-read-private user-read-email",
        pkce_documented=True,
        auth_method="client_secret_basic",
        refresh=True,
        api_base="https://api.spotify.com/v1/",
        whoami=WhoAmI("me", "id", email="email", name=("display_name",), picture="images.0.url"),
    ),
    # ------------------------------------------------------------------------- LinkedIn
    Preset(
        name="linkedin",
        title="LinkedIn (Sign In with LinkedIn using OpenID Connect)",
        protocol="oauth2",
        docs="https://learn.microsoft.com/en-us/linkedin/shared/authentication/authorization-code-flow",
        register=(
            "An app in the developer portal with the product 'Sign In with LinkedIn using "
            "OpenID Connect' and the authorized redirect URL " + _FIXED + "; scopes openid "
            "profile email."
        ),
        authorization_endpoint="https://www.linkedin.com/oauth/v2/authorization",
        token_endpoint="https://www.linkedin.com/oauth/v2/accessToken",
        introspection_endpoint="https://www.linkedin.com/oauth/v2/introspectToken",
        revocation_endpoint="https://www.linkedin.com/oauth/v2/revoke",
        userinfo_endpoint="https://api.linkedin.com/v2/userinfo",
        scope="openid profile email",
        auth_method="client_secret_post",
        refresh=True,
        api_base="https://api.linkedin.com/v2/",
        whoami=WhoAmI(
            "userinfo",
            "sub",
            email="email",
            email_verified="email_verified",
            name=("name",),
            picture="picture",
        ),
        hooks=(q.BEARER_WHEN_MISSING,),
        notes="Refresh tokens are issued to approved partners only.",
    ),
    # ------------------------------------------------------------------------- Reddit
    Preset(
        name="reddit",
        title="Reddit",
        protocol="oauth2",
        docs="https://github.com/reddit-archive/reddit/wiki/OAuth2",
        register=(
            "An app at https://www.reddit.com/prefs/apps of type 'installed app' (no secret) "
            "or 'web app', with the redirect uri " + _FIXED + "; scope identity."
        ),
        authorization_endpoint="https://www.reddit.com/api/v1/authorize",
        token_endpoint="https://www.reddit.com/api/v1/access_token",
        revocation_endpoint="https://www.reddit.com/api/v1/revoke_token",
        scope="identity",
        auth_method="client_secret_basic",
        refresh=True,
        api_base="https://oauth.reddit.com/",
        whoami=WhoAmI("api/v1/me", "id", name=("name",), picture="icon_img"),
        hooks=(
            q.REDDIT_PERMANENT,
            q.REDDIT_USER_AGENT,
            q.REDDIT_INSTALLED_APP,
            q.ERROR_WITH_200,
        ),
    ),
    # ------------------------------------------------------------------------- Twitch
    Preset(
        name="twitch",
        title="Twitch",
        protocol="oauth2",
        docs="https://dev.twitch.tv/docs/authentication/getting-tokens-oauth/",
        register=(
            "An application in the developer console with the OAuth redirect URL "
            + _FIXED
            + " (http is accepted for localhost); client type 'Public' for the device flow "
            "without a secret. Scopes such as user:read:email are asked at sign-in."
        ),
        authorization_endpoint="https://id.twitch.tv/oauth2/authorize",
        token_endpoint="https://id.twitch.tv/oauth2/token",
        device_authorization_endpoint="https://id.twitch.tv/oauth2/device",
        revocation_endpoint="https://id.twitch.tv/oauth2/revoke",
        scope="user:read:email",
        auth_method="client_secret_post",
        device=True,
        refresh=True,
        api_base="https://api.twitch.tv/helix/",
        whoami=WhoAmI(
            "users",
            "data.0.id",
            email="data.0.email",
            email_verified=True,  # Twitch answers verified addresses only
            name=("data.0.display_name", "data.0.login"),
            picture="data.0.profile_image_url",
            headers=(("Client-Id", "{client_id}"),),
        ),
        hooks=(q.TWITCH_SCOPE_LIST, q.TWITCH_ERRORS, q.TWITCH_DEVICE_SCOPES),
    ),
    # ------------------------------------------------------------------------- Strava
    Preset(
        name="strava",
        title="Strava",
        protocol="oauth2",
        docs="https://developers.strava.com/docs/authentication/",
        register=(
            "An API application (Settings > My API Application) with the Authorization "
            "Callback Domain 127.0.0.1 (or localhost): any port and path on that domain are "
            "accepted. Scopes are comma-separated: read,activity:read."
        ),
        authorization_endpoint="https://www.strava.com/oauth/authorize",
        token_endpoint="https://www.strava.com/oauth/token",
        scope="read,activity:read",
        auth_method="client_secret_post",
        refresh=True,
        rotating_refresh=True,
        api_base="https://www.strava.com/api/v3/",
        whoami=WhoAmI("athlete", "id", name=("username", "firstname"), picture="profile"),
        hooks=(q.STRAVA_EXPIRES_AT, q.STRAVA_FAULT),
        loopback_any_port=True,
        notes=(
            "The scope the athlete accepted arrives on the callback (scope=…), not in the "
            "token answer; refresh tokens may change on refresh, keep the newest."
        ),
    ),
    # ------------------------------------------------------------------------- Fitbit
    Preset(
        name="fitbit",
        title="Fitbit",
        protocol="oauth2",
        docs="https://dev.fitbit.com/build/reference/web-api/developer-guide/authorization/",
        register=(
            "An application at dev.fitbit.com/apps, OAuth 2.0 application type 'Client' "
            "(public, PKCE) or 'Server', with the redirect URL " + _FIXED + "; scopes such "
            "as profile activity."
        ),
        authorization_endpoint="https://www.fitbit.com/oauth2/authorize",
        token_endpoint="https://api.fitbit.com/oauth2/token",
        revocation_endpoint="https://api.fitbit.com/oauth2/revoke",
        introspection_endpoint="https://api.fitbit.com/1.1/oauth2/introspect",
        scope="profile",
        pkce_documented=True,
        auth_method="client_secret_basic",
        refresh=True,
        rotating_refresh=True,
        api_base="https://api.fitbit.com/",
        whoami=WhoAmI(
            "1/user/-/profile.json",
            "user.encodedId",
            name=("user.displayName", "user.fullName"),
            picture="user.avatar",
        ),
        hooks=(q.FITBIT_ERRORS,),
        notes="A refresh token can be used once; the answer carries the next one.",
    ),
    # ------------------------------------------------------------------------- Notion
    Preset(
        name="notion",
        title="Notion (public integrations)",
        protocol="oauth2",
        docs="https://developers.notion.com/docs/authorization",
        register=(
            "A public integration (connection) with the redirect URI " + _FIXED + "; Notion "
            "has no scopes: capabilities are chosen in the integration's settings and the "
            "user picks the pages to share."
        ),
        authorization_endpoint="https://api.notion.com/v1/oauth/authorize",
        token_endpoint="https://api.notion.com/v1/oauth/token",
        auth_method="client_secret_basic",
        refresh=True,
        api_base="https://api.notion.com/v1/",
        whoami=WhoAmI(
            "users/me",
            "bot.owner.user.id",  # the person; the top-level id is the integration's bot
            email="bot.owner.user.person.email",
            name=("bot.owner.user.name",),
            picture="bot.owner.user.avatar_url",
            headers=(("Notion-Version", "2022-06-28"),),
        ),
        hooks=(q.NOTION_OWNER_USER, q.NOTION_JSON_BODY),
    ),
    # ------------------------------------------------------------------------- Atlassian
    Preset(
        name="atlassian",
        title="Atlassian (Jira, Confluence; OAuth 2.0 3LO)",
        protocol="oauth2",
        aliases=("jira", "confluence"),
        docs="https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/",
        register=(
            "An OAuth 2.0 integration in the developer console with the callback URL "
            + _FIXED
            + "; add the APIs and scopes you use (read:me, read:jira-user, …) under "
            "Permissions. offline_access asks for a refresh token."
        ),
        authorization_endpoint="https://auth.atlassian.com/authorize",
        token_endpoint="https://auth.atlassian.com/oauth/token",
        scope="read:me offline_access",
        auth_method="client_secret_post",
        refresh=True,
        rotating_refresh=True,
        api_base="https://api.atlassian.com/",
        whoami=WhoAmI("me", "account_id", email="email", name=("name",), picture="picture"),
        hooks=(q.ATLASSIAN_AUDIENCE, q.BEARER_WHEN_MISSING),
        notes="Rotating refresh tokens: each refresh answers a new one; keep the newest.",
    ),
    # ------------------------------------------------------------------------- Salesforce
    Preset(
        name="salesforce",
        title="Salesforce",
        protocol="oauth2",
        docs="https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm",
        register=(
            "A connected app (or external client app) with OAuth enabled, the callback URL "
            + _FIXED
            + ", 'Require PKCE' if you like, and the OAuth scopes api refresh_token."
        ),
        authorization_endpoint="{base}/services/oauth2/authorize",
        token_endpoint="{base}/services/oauth2/token",
        revocation_endpoint="{base}/services/oauth2/revoke",
        introspection_endpoint="{base}/services/oauth2/introspect",
        userinfo_endpoint="{base}/services/oauth2/userinfo",
        scope="api refresh_token",
        pkce_documented=True,
        auth_method="client_secret_post",
        refresh=True,
        api_base_from="instance_url",
        whoami=WhoAmI(
            "{base}/services/oauth2/userinfo",
            "user_id",
            tenant=("organization_id",),
            email="email",
            email_verified="email_verified",
            name=("name", "preferred_username"),
            picture="picture",
        ),
        defaults={"base": "https://login.salesforce.com"},
        options={
            "base": "https://test.salesforce.com for a sandbox, or your My Domain URL",
        },
        notes=(
            "The token answer's instance_url (kept in Token.extra) is the API base of that "
            "org, e.g. https://yourorg.my.salesforce.com/services/data/v60.0/."
        ),
    ),
    # ------------------------------------------------------------------------- Xero
    Preset(
        name="xero",
        title="Xero",
        protocol="oauth2",
        docs="https://developer.xero.com/documentation/guides/oauth2/auth-flow",
        register=(
            "An app in My Apps ('Auth code with PKCE' for a public client, or 'Web app') with "
            "the redirect URI " + _FIXED + "; scopes openid profile email offline_access and "
            "the API scopes you use (accounting.transactions, …)."
        ),
        authorization_endpoint="https://login.xero.com/identity/connect/authorize",
        token_endpoint="https://identity.xero.com/connect/token",
        revocation_endpoint="https://identity.xero.com/connect/revocation",
        userinfo_endpoint="https://identity.xero.com/connect/userinfo",
        scope="openid profile email offline_access",
        pkce_documented=True,
        auth_method="client_secret_basic",
        refresh=True,
        rotating_refresh=True,
        api_base="https://api.xero.com/",
        whoami=WhoAmI(
            "https://identity.xero.com/connect/userinfo",
            "sub",
            email="email",
            name=("name", "given_name"),
        ),
        notes="Each refresh answers a new refresh token; call GET /connections for tenants.",
    ),
    # ------------------------------------------------------------------------- Intuit
    Preset(
        name="intuit",
        title="Intuit QuickBooks Online",
        protocol="oauth2",
        aliases=("quickbooks",),
        docs="https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/oauth-2.0",
        register=(
            "An app in the developer portal with the redirect URI " + _FIXED + " under "
            "Development keys (production keys need an https redirect URI); scope "
            "com.intuit.quickbooks.accounting."
        ),
        authorization_endpoint="https://appcenter.intuit.com/connect/oauth2",
        token_endpoint="https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
        revocation_endpoint="https://developer.api.intuit.com/v2/oauth2/tokens/revoke",
        scope="com.intuit.quickbooks.accounting",
        auth_method="client_secret_basic",
        refresh=True,
        rotating_refresh=True,
        api_base="https://{api_host}/v3/company/",
        defaults={"api_host": "quickbooks.api.intuit.com"},
        options={"api_host": "sandbox-quickbooks.api.intuit.com for the sandbox"},
        notes=(
            "The company id (realmId) arrives on the callback; it is kept in "
            "AuthorizationCode.extra['realmId'] (validate_callback, then exchange_code with "
            "that code)."
        ),
    ),
    # ------------------------------------------------------------------------- Etsy
    Preset(
        name="etsy",
        title="Etsy (Open API v3)",
        protocol="oauth2",
        docs="https://developers.etsy.com/documentation/essentials/authentication",
        register=(
            "An app at etsy.com/developers with the callback URL http://localhost:PORT/callback "
            'registered exactly as oauthkit sends it: set redirect_host = "localhost" and a '
            "fixed redirect_port = PORT in the configuration (Etsy matches redirect URIs "
            "exactly and case-sensitively and documents https; its quickstart uses "
            "http://localhost, not 127.0.0.1). The client id is the app's keystring. Scopes "
            "such as email_r shops_r."
        ),
        authorization_endpoint="https://www.etsy.com/oauth/connect",
        token_endpoint="https://api.etsy.com/v3/public/oauth/token",
        scope="email_r",
        pkce_documented=True,
        pkce_required=True,
        auth_method="none",
        refresh=True,
        api_base="https://api.etsy.com/v3/application/",
        whoami=WhoAmI("users/me", "user_id", headers=(("x-api-key", "{client_id}"),)),
    ),
    # ------------------------------------------------------------------------- Zoom
    Preset(
        name="zoom",
        title="Zoom",
        protocol="oauth2",
        docs="https://developers.zoom.us/docs/integrations/oauth/",
        register=(
            "A general (OAuth) app in the Zoom App Marketplace with the OAuth redirect URL "
            + _FIXED
            + " and the same URL in the allow list; add the scopes you use "
            "(user:read:user)."
        ),
        authorization_endpoint="https://zoom.us/oauth/authorize",
        token_endpoint="https://zoom.us/oauth/token",
        revocation_endpoint="https://zoom.us/oauth/revoke",
        pkce_documented=True,
        auth_method="client_secret_basic",
        refresh=True,
        rotating_refresh=True,
        api_base="https://api.zoom.us/v2/",
        whoami=WhoAmI(
            "users/me",
            "id",
            tenant=("account_id",),
            email="email",
            name=("display_name", "first_name"),
            picture="pic_url",
        ),
        notes="Each refresh answers a new refresh token; the old one stops working.",
    ),
    # ------------------------------------------------------------------------- Box
    Preset(
        name="box",
        title="Box",
        protocol="oauth2",
        docs="https://developer.box.com/guides/authentication/oauth2/",
        register=(
            "A custom app with 'User Authentication (OAuth 2.0)' in the developer console, "
            "redirect URI " + _FIXED + ", and the application scopes you need."
        ),
        authorization_endpoint="https://account.box.com/api/oauth2/authorize",
        token_endpoint="https://api.box.com/oauth2/token",
        revocation_endpoint="https://api.box.com/oauth2/revoke",
        auth_method="client_secret_post",
        refresh=True,
        rotating_refresh=True,
        api_base="https://api.box.com/2.0/",
        whoami=WhoAmI("users/me", "id", email="login", name=("name",), picture="avatar_url"),
        notes="A refresh token is single-use and answered anew on each refresh.",
    ),
    # ------------------------------------------------------------------------- eBay
    Preset(
        name="ebay",
        title="eBay",
        protocol="oauth2",
        docs="https://developer.ebay.com/api-docs/static/oauth-authorization-code-grant.html",
        register=(
            "A keyset and a RuName (eBay redirect URL name) in the developer portal: eBay "
            "takes the RuName as redirect_uri and redirects to the https 'auth accepted URL' "
            "configured for it, so pass redirect_uri=<RuName> to the library; the loopback "
            "redirect of the CLI cannot be registered. Scopes are URLs "
            "(https://api.ebay.com/oauth/api_scope …)."
        ),
        authorization_endpoint="https://{auth_host}/oauth2/authorize",
        token_endpoint="https://{api_host}/identity/v1/oauth2/token",
        scope="https://api.ebay.com/oauth/api_scope",
        auth_method="client_secret_basic",
        refresh=True,
        api_base="https://{api_host}/",
        whoami=WhoAmI(
            "https://apiz.ebay.com/commerce/identity/v1/user/", "userId", name=("username",)
        ),
        hooks=(q.EBAY_TOKEN_TYPE,),
        defaults={"auth_host": "auth.ebay.com", "api_host": "api.ebay.com"},
        options={
            "auth_host": "auth.sandbox.ebay.com for the sandbox",
            "api_host": "api.sandbox.ebay.com for the sandbox",
        },
    ),
    # ------------------------------------------------------------------------- Facebook
    Preset(
        name="facebook",
        title="Facebook Login",
        protocol="oauth2",
        aliases=("meta",),
        docs="https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow",
        register=(
            "An app with the Facebook Login product and the Valid OAuth Redirect URI "
            + _FIXED
            + "; permissions public_profile and email."
        ),
        authorization_endpoint="https://www.facebook.com/{version}/dialog/oauth",
        token_endpoint="https://graph.facebook.com/{version}/oauth/access_token",
        scope="public_profile email",
        pkce_documented=True,
        auth_method="client_secret_post",
        api_base="https://graph.facebook.com/{version}/",
        whoami=WhoAmI(
            "me?fields=id,name,email,picture",
            "id",  # app-scoped: unique per user and app
            email="email",
            name=("name",),
            picture="picture.data.url",
        ),
        hooks=(q.FACEBOOK_ERROR_OBJECT,),
        defaults={"version": "v21.0"},
        options={"version": "the Graph API version, e.g. v21.0"},
        notes="No refresh tokens: a long-lived token is had by exchanging a short-lived one.",
    ),
    # ------------------------------------------------------------------------- OAuth 1.0a
    Preset(
        name="trello",
        title="Trello (OAuth 1.0a)",
        protocol="oauth1",
        docs="https://developer.atlassian.com/cloud/trello/guides/rest-api/authorization/",
        register=(
            "A Power-Up / API key at trello.com/power-ups/admin: the API key is the consumer "
            "key and the secret the consumer secret; add http://127.0.0.1 to the allowed "
            "origins. Scope and expiry are asked in the authorization URL (read, never)."
        ),
        request_token_url="https://trello.com/1/OAuthGetRequestToken",
        authorize_url=(
            "https://trello.com/1/OAuthAuthorizeToken?name=oauthkit&scope=read&expiration=never"
        ),
        access_token_url="https://trello.com/1/OAuthGetAccessToken",
        api_base="https://api.trello.com/1/",
        whoami=WhoAmI(
            "members/me", "id", email="email", name=("fullName", "username"), picture="avatarUrl"
        ),
    ),
    Preset(
        name="flickr",
        title="Flickr (OAuth 1.0a)",
        protocol="oauth1",
        docs="https://www.flickr.com/services/api/auth.oauth.html",
        register=(
            "An API key at flickr.com/services/apps/create; the callback URL is sent with "
            "each request (or oob for a PIN). Permissions are asked in the authorization URL "
            "(perms=read)."
        ),
        request_token_url="https://www.flickr.com/services/oauth/request_token",
        authorize_url="https://www.flickr.com/services/oauth/authorize?perms=read",
        access_token_url="https://www.flickr.com/services/oauth/access_token",
        pin=True,
        api_base="https://api.flickr.com/services/rest/",
        whoami=WhoAmI(
            "?method=flickr.test.login&format=json&nojsoncallback=1",
            "user.id",
            name=("user.username._content",),
        ),
        oauth1_id="user_nsid",
    ),
    Preset(
        name="tumblr",
        title="Tumblr (OAuth 1.0a)",
        protocol="oauth1",
        docs="https://www.tumblr.com/docs/en/api/v2#auth",
        register=(
            "An application at tumblr.com/oauth/apps with the default callback URL " + _FIXED + "."
        ),
        request_token_url="https://www.tumblr.com/oauth/request_token",
        authorize_url="https://www.tumblr.com/oauth/authorize",
        access_token_url="https://www.tumblr.com/oauth/access_token",
        api_base="https://api.tumblr.com/v2/",
        # Tumblr has no user id: the primary blog's uuid survives renames (Tumblr's docs: it
        # changes only "under exceptional circumstances").
        whoami=WhoAmI(
            "user/info", "response.user.blogs.?primary.uuid", name=("response.user.name",)
        ),
    ),
    Preset(
        name="garmin",
        title="Garmin Connect (Health API, OAuth 1.0a)",
        protocol="oauth1",
        docs="https://developer.garmin.com/gc-developer-program/health-api/",
        register=(
            "Consumer key and secret from the Garmin Connect Developer Program (an approved "
            "partner account); the callback URL " + _FIXED + " is sent with each request."
        ),
        request_token_url="https://connectapi.garmin.com/oauth-service/oauth/request_token",
        authorize_url="https://connect.garmin.com/oauthConfirm",
        access_token_url="https://connectapi.garmin.com/oauth-service/oauth/access_token",
        api_base="https://apis.garmin.com/wellness-api/rest/",
        whoami=WhoAmI("user/id", "userId"),
    ),
    # ------------------------------------------------------------------------- discovery
    Preset(
        name="okta",
        title="Okta (OpenID Connect discovery)",
        protocol="oauth2",
        docs="https://developer.okta.com/docs/guides/implement-grant-type/authcodepkce/main/",
        register=(
            "An OIDC app integration of type 'Native Application' with the sign-in redirect "
            "URI " + _FIXED + " (or a 'Web Application' with a secret); grant types "
            "Authorization Code, Refresh Token and Device Authorization as needed."
        ),
        issuer="{issuer}",
        scope="openid profile email offline_access",
        pkce_documented=True,
        device=True,
        refresh=True,
        options={"issuer": "e.g. https://dev-123456.okta.com/oauth2/default"},
    ),
    Preset(
        name="auth0",
        title="Auth0 (OpenID Connect discovery)",
        protocol="oauth2",
        docs="https://auth0.com/docs/get-started/authentication-and-authorization-flow/authorization-code-flow-with-pkce",
        register=(
            "An application of type 'Native' with the Allowed Callback URL " + _FIXED + "; "
            "enable the Device Code grant for the device flow and 'Allow Offline Access' on "
            "the API for refresh tokens (pass audience= for an API's access token)."
        ),
        issuer="https://{domain}/",
        scope="openid profile email offline_access",
        pkce_documented=True,
        device=True,
        refresh=True,
        rotating_refresh=True,
        options={"domain": "your tenant's domain, e.g. example.eu.auth0.com"},
    ),
    Preset(
        name="keycloak",
        title="Keycloak (OpenID Connect discovery)",
        protocol="oauth2",
        docs="https://www.keycloak.org/securing-apps/oidc-layers",
        register=(
            "A client in the realm with 'Standard flow' on, 'Client authentication' off for "
            "a public client, the valid redirect URI http://127.0.0.1/* (Keycloak matches a "
            "wildcard, so any port works), and 'OAuth 2.0 Device Authorization Grant' on for "
            "the device flow."
        ),
        issuer="{base}/realms/{realm}",
        scope="openid profile email",
        pkce_documented=True,
        device=True,
        refresh=True,
        options={
            "base": "the server's URL, e.g. https://sso.example.com",
            "realm": "the realm's name",
        },
        loopback_any_port=True,
    ),
    Preset(
        name="oidc",
        title="Any OpenID Connect / RFC 8414 issuer (discovery)",
        protocol="oauth2",
        docs="https://openid.net/specs/openid-connect-discovery-1_0.html",
        register=(
            "A public (native) client with the redirect URI http://127.0.0.1/callback; RFC "
            "8252 §7.3 asks servers to accept any port on a loopback redirect, but some want "
            "it fixed: then set redirect_port."
        ),
        issuer="{issuer}",
        scope="openid profile email",
        pkce_documented=True,
        refresh=True,
        options={"issuer": "the issuer URL, e.g. https://id.example.com"},
    ),
)
