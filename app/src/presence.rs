//! Presence in the UI: staff set their own availability (online, away,
//! offline) from the top bar; customers see whether support can answer now;
//! staff see who of the team is online. Live updates arrive as `presence`
//! frames; this module keeps the latest one in context.

use crate::error::AppError;
use crate::live::use_live;
use leptos::prelude::*;
use parley::model::StaffPresence;
use parley::protocol::ServerFrame;
use parley::{Availability, UserId};

/// A staff member sets their own availability.
#[server(endpoint = "availability")]
pub async fn set_availability(availability: String) -> Result<Availability, AppError> {
    use crate::error::ErrorKind;
    use crate::ssr::{backend, fail, require_staff, respond};
    let me = require_staff().await?;
    let availability: Availability = availability.parse().map_err(|_| {
        fail(AppError::new(
            ErrorKind::Invalid,
            "Choose online, away or offline.",
        ))
    })?;
    respond(backend::presence::set_availability(&backend()?, &me, availability).await)
}

/// The latest presence the server announced.
#[derive(Clone, Copy)]
pub struct Presence {
    /// `None` until the socket has said.
    pub support_online: RwSignal<Option<bool>>,
    pub staff: RwSignal<Vec<StaffPresence>>,
}

impl Presence {
    pub fn provide() -> Presence {
        let presence = Presence {
            support_online: RwSignal::new(None),
            staff: RwSignal::new(Vec::new()),
        };
        let live = use_live();
        live.on_frame(move |frame| {
            if let ServerFrame::Presence {
                support_online,
                staff,
            } = frame
            {
                presence.support_online.set(Some(*support_online));
                if let Some(staff) = staff {
                    presence.staff.set(staff.clone());
                }
            }
        });
        provide_context(presence);
        presence
    }
}

pub fn use_presence() -> Presence {
    expect_context::<Presence>()
}

/// "Support is online" / "Support is away" for customers.
#[component]
pub fn SupportStatus() -> impl IntoView {
    let presence = use_presence();
    move || match presence.support_online.get() {
        Some(true) => view! {
            <p class="presence" data-testid="support-status" data-online="true">
                <span class="dot online"></span>
                "Support is online"
            </p>
        }
        .into_any(),
        Some(false) => view! {
            <p class="presence" data-testid="support-status" data-online="false">
                <span class="dot away"></span>
                "Support is away — we'll answer here as soon as we can"
            </p>
        }
        .into_any(),
        None => ().into_any(),
    }
}

/// The staff member's own availability switch, for the top bar. Its value
/// comes from the team list in the `presence` frames (so it is known only in
/// the browser, after the socket says hello: nothing to hydrate).
#[component]
pub fn AvailabilitySwitch(me: UserId) -> impl IntoView {
    let presence = use_presence();
    let error = RwSignal::new(None::<String>);
    let current = Memo::new(move |_| {
        presence
            .staff
            .with(|staff| staff.iter().find(|s| s.user.id == me).map(|s| s.availability))
    });
    let on_change = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        leptos::task::spawn_local(async move {
            match set_availability(value).await {
                Ok(_) => error.set(None),
                Err(e) => error.set(Some(e.message)),
            }
        });
    };
    view! {
        <label class="availability" title=move || error.get().unwrap_or_default()>
            <span class=move || {
                format!("dot {}", current.get().map_or("offline", Availability::as_str))
            }></span>
            <select aria-label="My availability" data-testid="availability" on:change=on_change>
                {Availability::ALL
                    .into_iter()
                    .map(|a| {
                        view! {
                            <option value=a.as_str() selected=move || current.get() == Some(a)>
                                {a.label()}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

/// Who of the team is online (staff pages).
#[component]
pub fn TeamList() -> impl IntoView {
    let presence = use_presence();
    view! {
        <div class="card" data-testid="team">
            <h2>"Team"</h2>
            <ul class="team">
                {move || {
                    presence
                        .staff
                        .get()
                        .into_iter()
                        .map(|member| {
                            let class = if member.online {
                                "dot online"
                            } else if member.availability == Availability::Away {
                                "dot away"
                            } else {
                                "dot"
                            };
                            let state = if member.online { "online" } else { member.availability.as_str() };
                            view! {
                                <li data-online=member.online.to_string()>
                                    <span class=class></span>
                                    {member.user.name.clone()}
                                    <span class="muted">{format!(" · {state}")}</span>
                                </li>
                            }
                        })
                        .collect_view()
                }}
            </ul>
        </div>
    }
}
