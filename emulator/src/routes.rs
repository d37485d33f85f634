//! The route table: every path the emulator answers, with its handler, its method rules and the guard
//! (route name for stats and fault rules). Classic and Edge paths share handlers; only the path differs.

use crate::app::{App, RouteName};
use crate::http::guard::{guard, Scope};
use crate::http::{method_not_allowed, not_found_route, preflight, Out};
use crate::{admin, edge, guest_rest, personalize, stream};
use axum::handler::Handler;
use axum::http::{Method, Uri};
use axum::middleware::from_fn_with_state;
use axum::routing::{any, get, post, MethodRouter};
use axum::extract::Request;
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
    let guarded = |name: RouteName, m: Methods| m.layer(from_fn_with_state(Scope::new(&app, name), guard));
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
            );
    }
    for p in CALLFLOWS_PATHS {
        r = r.route(p, guarded(RouteName::CallFlows, cdp_post(personalize::call_flows)));
    }
    r = r.route(
        "/v1/personalize/cdn-url",
        guarded(RouteName::Other, cdp_get(edge::cdn_url)),
    );

    // Guest REST: no CORS preflight (OPTIONS is a method like any other: authenticated, then 405).
    let g = |m: Methods| guarded(RouteName::Guests, m);
    r = r
        .route(
            "/v2.1/guests",
            g(post(guests::create)
                .get(guests::find)
                .head(not_allowed_here("GET, POST"))
                .fallback(not_allowed_here("GET, POST"))),
        )
        .route(
            "/v2.1/guests/{gref}",
            g(get(guests::read)
                .put(guests::update)
                .patch(guests::update)
                .delete(guests::delete)
                .head(not_allowed_on_guest("GET, PUT, PATCH, DELETE"))
                .fallback(not_allowed_on_guest("GET, PUT, PATCH, DELETE"))),
        )
        .route(
            "/v2.1/guests/{gref}/extensions",
            g(get(extensions::list)
                .post(extensions::create)
                .head(not_allowed_on_guest("GET, POST"))
                .fallback(not_allowed_on_guest("GET, POST"))),
        )
        .route(
            "/v2.1/guests/{gref}/extensions/{name}",
            g(get(extensions::read)
                .put(extensions::update)
                .patch(extensions::update)
                .delete(extensions::delete)
                .head(not_allowed_on_guest("GET, PUT, PATCH, DELETE"))
                .fallback(not_allowed_on_guest("GET, PUT, PATCH, DELETE"))),
        )
        .route(
            "/v2.1/guests/{gref}/extensions/{name}/fields",
            g(any(not_allowed_on_guest("DELETE")).delete(extensions::delete_fields)),
        );

    // Inspection and admin API; a trailing slash is accepted, an unknown method or path is a 404.
    let a = |path: &str, m: Methods| -> [(String, Methods); 2] {
        let m = m
            .fallback(admin::no_route)
            .layer(from_fn_with_state(Scope::new(&app, RouteName::Admin), guard));
        [(path.to_string(), m.clone()), (format!("{path}/"), m)]
    };
    let admin_routes = [
        a("/__emulator", get(admin::health).head(admin::no_route)),
        a("/__emulator/health", get(admin::health).head(admin::no_route)),
        a("/__emulator/requests", get(admin::requests).head(admin::no_route)),
        a("/__emulator/guests", get(admin::guests).head(admin::no_route)),
        a("/__emulator/guests/{gref}", get(admin::guest).head(admin::no_route)),
        a("/__emulator/sessions", get(admin::sessions).head(admin::no_route)),
        a("/__emulator/events", get(admin::events).head(admin::no_route)),
        a(
            "/__emulator/flows/executions",
            get(admin::flow_executions).head(admin::no_route),
        ),
        a("/__emulator/stats", get(admin::stats).head(admin::no_route)),
        a("/__emulator/config", get(admin::config).head(admin::no_route)),
        a("/__emulator/reset", post(admin::reset)),
        a(
            "/__emulator/faults",
            get(admin::faults)
                .head(admin::no_route)
                .put(admin::put_faults)
                .post(admin::put_faults)
                .delete(admin::clear_faults),
        ),
        a("/__emulator/clock", get(admin::clock).head(admin::no_route)),
        a("/__emulator/clock/advance", post(admin::advance_clock)),
    ];
    for (path, m) in admin_routes.into_iter().flatten() {
        r = r.route(&path, m);
    }
    // Anything else: under a known prefix that API's 404 (with its guard), otherwise a CORS preflight or a
    // 404, never faulted. (A catch-all route would collide with the `{gref}` routes, hence a fallback.)
    let scoped = |name: RouteName, m: MethodRouter<()>| {
        m.layer(from_fn_with_state(Scope::new(&app, name), guard))
    };
    let guests_404 = scoped(RouteName::Guests, any(guest_rest::no_route).with_state(app.clone()));
    let admin_404 = scoped(RouteName::Admin, any(admin::no_route));
    let unknown = any(unknown_route).layer(from_fn_with_state(
        Scope::unfaulted(&app, RouteName::Other),
        guard,
    ));
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
    get(h)
        .head(not_allowed("GET, OPTIONS"))
        .options(preflight)
        .fallback(not_allowed("GET, OPTIONS"))
}

/// A Stream / Personalize POST route: CORS preflight on OPTIONS, 405 (with `Allow`) on anything else.
fn cdp_post<H: Handler<T, Arc<App>>, T: 'static>(h: H) -> Methods {
    post(h)
        .options(preflight)
        .fallback(not_allowed("POST, OPTIONS"))
}
