//! The route table: every path the emulator answers, with its handler, its method rules and the guard
//! (route name for stats and fault rules). Classic and Edge paths share handlers; only the path differs.

use crate::app::{App, RouteName};
use crate::http::guard::{guard, Scope};
use crate::http::{method_not_allowed, not_found_route, preflight, Out};
use crate::{admin, edge, guest_rest, personalize, stream};
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::{Method, Uri};
use axum::middleware::from_fn_with_state;
use axum::routing::{any, MethodRouter};
use axum::Router;
use guest_rest::{extensions, guests, not_allowed_here, not_allowed_on_guest};
use std::future::{ready, Ready};
use std::sync::Arc;
use tower::ServiceExt;

type Methods = MethodRouter<Arc<App>>;

/// Stream API paths, served at the root (classic) and under the Edge proxy prefixes (Cloud SDK).
const STREAM_PREFIXES: [&str; 3] = ["", "/v1/events", "/events"];
/// `callFlows` and its Edge forms.
const CALLFLOWS_PATHS: [&str; 4] = [
    "/v2/callFlows",
    "/v1/personalize",
    "/v1/personalize/v2/callFlows",
    "/personalize/v2/callFlows",
];

pub fn router(app: Arc<App>) -> Router {
    let guarded =
        |name: RouteName, m: Methods| m.layer(from_fn_with_state(Scope::new(&app, name), guard));
    // Anything unknown: a CORS preflight or a 404, never faulted.
    let unknown = any(unknown_route).layer(from_fn_with_state(
        Scope::unfaulted(&app, RouteName::Other),
        guard,
    ));
    let mut r: Router<Arc<App>> = Router::new();
    for p in STREAM_PREFIXES {
        r = r
            .route(
                &format!("{p}/v1.2/browser/create.json"),
                guarded(RouteName::BrowserCreate, cdp_get(stream::browser_create)),
            )
            .route(
                &format!("{p}/v1.2/browser/{{id}}/show.json"),
                guarded(RouteName::BrowserShow, cdp_get(stream::browser_show)),
            )
            .route(
                &format!("{p}/v1.2/events"),
                guarded(RouteName::Events, cdp_post(stream::events_post)),
            )
            .route(
                &format!("{p}/v1.2/event/create.json"),
                guarded(RouteName::Events, cdp_get(stream::event_get)),
            )
            // `{id}` would also match an empty segment; an empty browser id is no route at all.
            .route_service(&format!("{p}/v1.2/browser//show.json"), unknown.clone());
    }
    for p in CALLFLOWS_PATHS {
        r = r.route(
            p,
            guarded(RouteName::CallFlows, cdp_post(personalize::call_flows)),
        );
    }
    r = r.route(
        "/v1/personalize/cdn-url",
        guarded(RouteName::Other, cdp_get(edge::cdn_url)),
    );

    // Guest REST: no CORS preflight (OPTIONS is a method like any other: authenticated, then 405).
    // A trailing slash names the same resource (as the path segments are what count).
    let g = |path: &str, m: Methods| -> [(String, Methods); 2] {
        let m = guarded(RouteName::Guests, m);
        [(path.to_string(), m.clone()), (format!("{path}/"), m)]
    };
    let guest_routes = [
        g(
            "/v2.1/guests",
            any(not_allowed_here("GET, POST"))
                .post(guests::create)
                .get(guests::find)
                .head(not_allowed_here("GET, POST")),
        ),
        g(
            "/v2.1/guests/{gref}",
            any(not_allowed_on_guest("GET, PUT, PATCH, DELETE"))
                .get(guests::read)
                .put(guests::update)
                .patch(guests::update)
                .delete(guests::delete)
                .head(not_allowed_on_guest("GET, PUT, PATCH, DELETE")),
        ),
        g(
            "/v2.1/guests/{gref}/extensions",
            any(not_allowed_on_guest("GET, POST"))
                .get(extensions::list)
                .post(extensions::create)
                .head(not_allowed_on_guest("GET, POST")),
        ),
        g(
            "/v2.1/guests/{gref}/extensions/{name}",
            any(not_allowed_on_guest("GET, PUT, PATCH, DELETE"))
                .get(extensions::read)
                .put(extensions::update)
                .patch(extensions::update)
                .delete(extensions::delete)
                .head(not_allowed_on_guest("GET, PUT, PATCH, DELETE")),
        ),
        g(
            "/v2.1/guests/{gref}/extensions/{name}/fields",
            any(not_allowed_on_guest("DELETE")).delete(extensions::delete_fields),
        ),
    ];
    for (path, m) in guest_routes.into_iter().flatten() {
        r = r.route(&path, m);
    }

    // Inspection and admin API; a trailing slash is accepted, an unknown method or path is a 404.
    // (Each method router starts from `any(fallback)` so that axum adds no `Allow` header of its own.)
    let a = |path: &str, m: Methods| -> [(String, Methods); 2] {
        let m = m.layer(from_fn_with_state(
            Scope::new(&app, RouteName::Admin),
            guard,
        ));
        [(path.to_string(), m.clone()), (format!("{path}/"), m)]
    };
    let admin_routes = [
        a("/__emulator", admin_get(admin::health)),
        a("/__emulator/health", admin_get(admin::health)),
        a("/__emulator/requests", admin_get(admin::requests)),
        a("/__emulator/guests", admin_get(admin::guests)),
        a("/__emulator/guests/{gref}", admin_get(admin::guest)),
        a("/__emulator/sessions", admin_get(admin::sessions)),
        a("/__emulator/events", admin_get(admin::events)),
        a(
            "/__emulator/flows/executions",
            admin_get(admin::flow_executions),
        ),
        a("/__emulator/stats", admin_get(admin::stats)),
        a("/__emulator/config", admin_get(admin::config)),
        a("/__emulator/reset", any(admin::no_route).post(admin::reset)),
        a(
            "/__emulator/faults",
            admin_get(admin::faults)
                .put(admin::put_faults)
                .post(admin::put_faults)
                .delete(admin::clear_faults),
        ),
        a("/__emulator/clock", admin_get(admin::clock)),
        a(
            "/__emulator/clock/advance",
            any(admin::no_route).post(admin::advance_clock),
        ),
    ];
    for (path, m) in admin_routes.into_iter().flatten() {
        r = r.route(&path, m);
    }
    // Anything else: under a known prefix that API's 404 (with its guard), otherwise `unknown`. (A catch-all route would collide with the `{gref}` routes, hence a fallback.)
    let scoped = |name: RouteName, m: MethodRouter<()>| {
        m.layer(from_fn_with_state(Scope::new(&app, name), guard))
    };
    let guests_404 = scoped(
        RouteName::Guests,
        any(guest_rest::no_route).with_state(app.clone()),
    );
    let admin_404 = scoped(RouteName::Admin, any(admin::no_route));
    let fallback = tower::service_fn(move |req: Request| {
        let path = req.uri().path();
        let m = if path.starts_with("/v2.1/guests/") {
            guests_404.clone()
        } else if path.starts_with("/__emulator/") {
            admin_404.clone()
        } else {
            unknown.clone()
        };
        m.oneshot(req)
    });
    r.fallback_service(fallback).with_state(app)
}

async fn unknown_route(method: Method, uri: Uri) -> Out {
    if method == Method::OPTIONS {
        preflight().await
    } else {
        not_found_route(&method, uri.path())
    }
}

fn not_allowed(
    allow: &'static str,
) -> impl Fn(Method, Uri) -> Ready<Out> + Clone + Send + Sync + 'static {
    move |method: Method, uri: Uri| ready(method_not_allowed(&method, uri.path(), allow))
}

/// A Stream / Personalize GET route: CORS preflight on OPTIONS, 405 (with `Allow`) on anything else.
fn cdp_get<H: Handler<T, Arc<App>>, T: 'static>(h: H) -> Methods {
    any(not_allowed("GET, OPTIONS"))
        .get(h)
        .head(not_allowed("GET, OPTIONS"))
        .options(preflight)
}

/// A Stream / Personalize POST route: CORS preflight on OPTIONS, 405 (with `Allow`) on anything else.
fn cdp_post<H: Handler<T, Arc<App>>, T: 'static>(h: H) -> Methods {
    any(not_allowed("POST, OPTIONS")).post(h).options(preflight)
}

/// An inspection GET route: any other method (HEAD included) is a 404, as for an unknown admin path.
fn admin_get<H: Handler<T, Arc<App>>, T: 'static>(h: H) -> Methods {
    any(admin::no_route).get(h).head(admin::no_route)
}
