//! The worker's own routes, each declared once: its path, the methods it answers, and the
//! method a cross-origin caller may use. The table is the only place a route is named:
//! the path lookup, `Allow`, the preflight's `Access-Control-Allow-Methods` and the log's
//! route name all come from it, and the handler's dispatch (`Services::route`) matches every
//! route without a catch-all, so a route added here does not compile until it is handled.

use serde::Serialize;

/// Declares [`Route`] and its table from one list of `Variant("log name") => path,
/// [methods], cors "method";` entries.
macro_rules! routes {
    ($($(#[$doc:meta])* $route:ident($name:literal) => $path:literal, [$($method:literal),+], cors $cors:literal;)+) => {
        /// A route of the worker.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Route {
            $($(#[$doc])* $route,)+
        }

        impl Route {
            /// Every route, in the table's order.
            pub(crate) const ALL: &'static [Route] = &[$(Route::$route),+];

            /// Its path, exactly.
            pub(crate) fn path(self) -> &'static str {
                match self {
                    $(Route::$route => $path,)+
                }
            }

            /// The methods it answers (`OPTIONS`: the CORS preflight), in `Allow`'s order.
            pub(crate) fn methods(self) -> &'static [&'static str] {
                match self {
                    $(Route::$route => &[$($method),+],)+
                }
            }

            /// The method a cross-origin caller may use (`Access-Control-Allow-Methods`).
            pub(crate) fn cors_method(self) -> &'static str {
                match self {
                    $(Route::$route => $cors,)+
                }
            }

            /// How the log line names it.
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(Route::$route => $name,)+
                }
            }
        }
    };
}

routes! {
    /// `POST /api/exchange`: a provider's token for a Stytch session.
    Exchange("exchange") => "/api/exchange", ["POST", "OPTIONS"], cors "POST";
    /// `GET /api/session`: the session the cookies prove.
    Session("session") => "/api/session", ["GET", "OPTIONS"], cors "GET";
    /// `POST /api/logout`: revoke it and clear the cookies.
    Logout("logout") => "/api/logout", ["POST", "OPTIONS"], cors "POST";
    /// `GET /healthz`: the configuration's state and the version.
    Healthz("healthz") => "/healthz", ["GET"], cors "GET";
}

impl Route {
    /// The route at `path`, if the worker has one.
    pub(crate) fn at(path: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| r.path() == path)
    }

    /// Whether it answers `method`.
    pub(crate) fn allows(self, method: &str) -> bool {
        self.methods().contains(&method)
    }
}

/// How the log line names a request's route: the route's name, `gateway` for a path a
/// `PROTECT` rule covers, or `unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteName {
    /// One of the worker's own routes.
    Own(Route),
    /// A path the gateway handles.
    Gateway,
    /// A call through the service binding (`EdgeAttest.session()`).
    Binding,
    /// No route.
    Unknown,
}

impl Serialize for RouteName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match self {
            Self::Own(route) => route.name(),
            Self::Gateway => "gateway",
            Self::Binding => "binding",
            Self::Unknown => "unknown",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_found_at_its_path_and_only_there() {
        for &route in Route::ALL {
            assert_eq!(Route::at(route.path()), Some(route));
            assert!(route.allows(route.cors_method()), "{route:?}");
        }
        assert_eq!(Route::at("/api/exchange/"), None);
        assert_eq!(Route::at("/API/exchange"), None);
        assert_eq!(Route::at(""), None);
    }
}
