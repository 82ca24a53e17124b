//! `cargo xtask demo`: a customer writes, an agent answers, the message is read; against
//! the services of `cargo xtask up`, printing each step.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use testkit::Keys;
use whatsapp_simulator::SimulatorClient;

use crate::dev_stack;
use crate::local;
use testkit::process;

struct Api {
    http: reqwest::Client,
    url: String,
    anon_key: String,
    service_key: String,
}

impl Api {
    fn new() -> Self {
        let env: std::collections::HashMap<String, String> =
            dev_stack::env_lines().into_iter().collect();
        Self {
            http: reqwest::Client::new(),
            url: format!("{}/rest/v1", env["SUPABASE_URL"]),
            anon_key: env["SUPABASE_ANON_KEY"].clone(),
            service_key: env["SUPABASE_SERVICE_ROLE_KEY"].clone(),
        }
    }

    async fn service_get(&self, path: &str) -> Result<Value> {
        let r = self
            .http
            .get(format!("{}/{path}", self.url))
            .header("apikey", &self.service_key)
            .send()
            .await?;
        Ok(r.error_for_status()?.json().await?)
    }
}

async fn poll<T>(
    what: &str,
    timeout: Duration,
    mut check: impl AsyncFnMut() -> Result<Option<T>>,
) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn run() -> Result<()> {
    if process::http_status(&format!("{}/healthz", local::gateway_url())) != Some(200) {
        bail!("the services are not running: start `cargo xtask up` in another terminal first");
    }
    tokio::runtime::Runtime::new()?.block_on(scenario())
}

async fn scenario() -> Result<()> {
    let started = Instant::now();
    let step =
        |n: u32, text: String| println!("[{:>6.2}s] {n}. {text}", started.elapsed().as_secs_f64());
    let api = Api::new();
    let sim = SimulatorClient::new(local::simulator_url());
    let customer = format!("3460{:07}", std::process::id() % 10_000_000);

    let injected = sim
        .inject_inbound(&customer, "Hola, ¿hacéis envíos a Canarias?")
        .await
        .context("the simulator did not take the inbound message")?;
    step(
        1,
        format!(
            "customer {} writes on WhatsApp (wamid {})",
            whatsapp::mask_phone(&customer),
            injected.wamid
        ),
    );

    let inbound: Value = poll("the message in the database", Duration::from_secs(10), async || {
        let rows = api
            .service_get(&format!(
                "messages?wa_message_id=eq.{}&select=id,conversation_id,conversations(assigned_agent_id,status)",
                injected.wamid
            ))
            .await?;
        Ok(rows.get(0).cloned())
    })
    .await?;
    let conversation_id = inbound["conversation_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    step(
        2,
        format!("the gateway stored it in conversation {conversation_id}"),
    );

    let agent_id = match inbound["conversations"]["assigned_agent_id"].as_str() {
        Some(agent) => agent.to_owned(),
        None => {
            // Auto-assignment off: an admin would assign it; the demo does it as the service.
            let agents = api
                .service_get("users?role=eq.agent&status=eq.active&select=id&limit=1")
                .await?;
            let agent = agents[0]["id"]
                .as_str()
                .context("no active agent in the database (run `cargo xtask stack reset`)")?
                .to_owned();
            api.http
                .patch(format!("{}/conversations?id=eq.{conversation_id}", api.url))
                .header("apikey", &api.service_key)
                .json(&json!({ "assigned_agent_id": agent }))
                .send()
                .await?
                .error_for_status()?;
            agent
        }
    };
    let agent = api
        .service_get(&format!("users?id=eq.{agent_id}&select=full_name"))
        .await?;
    step(
        3,
        format!(
            "it is assigned to {}",
            agent[0]["full_name"].as_str().unwrap_or("an agent")
        ),
    );

    let token = Keys::default().user_token(agent_id.parse()?);
    let response = api
        .http
        .post(format!("{}/messages", api.url))
        .header("apikey", &api.anon_key)
        .bearer_auth(&token)
        .header("Prefer", "return=representation")
        .json(&json!({
            "conversation_id": conversation_id,
            "sender_type": "agent",
            "sender_id": agent_id,
            "content": "¡Hola! Sí, enviamos a Canarias en 48-72 h.",
            "message_type": "text",
            "status": "pending",
        }))
        .send()
        .await?;
    if !response.status().is_success() {
        bail!(
            "the agent's insert was refused: {} {}",
            response.status(),
            response.text().await?
        );
    }
    let reply: Value = response.json().await?;
    let reply_id = reply[0]["id"].as_str().unwrap_or_default().to_owned();
    step(4, format!("the agent replies through PostgREST with their own token (message {reply_id}, pending)"));

    let received = poll(
        "the simulator to receive the reply",
        Duration::from_secs(15),
        async || {
            let all = sim.received().await?;
            Ok(all
                .into_iter()
                .find(|m| m.callback_data.as_deref() == Some(reply_id.as_str())))
        },
    )
    .await?;
    step(
        5,
        format!(
            "WhatsApp (the simulator) received it: wamid {}",
            received.wamid
        ),
    );

    for wanted in ["sent", "delivered", "read"] {
        poll(
            &format!("status {wanted}"),
            Duration::from_secs(15),
            async || {
                let rows = api
                    .service_get(&format!("messages?id=eq.{reply_id}&select=status"))
                    .await?;
                let status = rows[0]["status"].as_str().unwrap_or_default().to_owned();
                let rank = |s: &str| {
                    ["pending", "sent", "delivered", "read"]
                        .iter()
                        .position(|x| *x == s)
                };
                Ok((rank(&status) >= rank(wanted)).then_some(()))
            },
        )
        .await?;
        step(6, format!("status webhook: the reply is {wanted}"));
    }
    photo_through_a_signed_link(&api, &sim, &customer, &agent_id, &token, &step).await?;
    println!("demo complete in {:.1?}", started.elapsed());
    Ok(())
}

/// The customer sends a photo; the gateway fetches it from WhatsApp into the media store;
/// the agent gets a signed link and loads it as a browser's `<img>` would.
async fn photo_through_a_signed_link(
    api: &Api,
    sim: &SimulatorClient,
    customer: &str,
    agent_id: &str,
    token: &str,
    step: &impl Fn(u32, String),
) -> Result<()> {
    let mut photo = whatsapp_simulator::InboundMedia::new(whatsapp_simulator::SampleKind::Image);
    photo.size = Some(200_000);
    photo.caption = Some("Así llegó la caja".into());
    let injected = sim
        .inject(&whatsapp_simulator::InboundSpec::media(customer, photo))
        .await
        .context("the simulator did not take the photo")?;
    step(
        7,
        format!(
            "the customer sends a photo of the broken box (wamid {})",
            injected.wamid
        ),
    );
    let message: Value = poll(
        "the photo to be fetched",
        Duration::from_secs(15),
        async || {
            let rows = api
                .service_get(&format!(
                    "messages?wa_message_id=eq.{}&select=id,media_url,metadata->media",
                    injected.wamid
                ))
                .await?;
            Ok(rows
                .get(0)
                .filter(|m| m["media"]["status"].as_str().is_some())
                .cloned())
        },
    )
    .await?;
    let message_id = message["id"].as_str().unwrap_or_default().to_owned();
    if message["media"]["status"] != "stored" {
        bail!("the photo was not stored: {}", message["media"]);
    }
    step(
        8,
        format!(
            "the gateway fetched it from WhatsApp, checked its sha256 and stored it as {} ({} bytes)",
            message["media_url"].as_str().unwrap_or_default(),
            message["media"]["file_size"]
        ),
    );
    let link: Value = api
        .http
        .post(format!("{}/rpc/media_link", api.url))
        .header("apikey", &api.anon_key)
        .bearer_auth(token)
        .json(&json!({ "p_message_id": message_id }))
        .send()
        .await?
        .error_for_status()
        .context("the agent could not get a media link")?
        .json()
        .await?;
    let url = link["url"].as_str().unwrap_or_default().to_owned();
    step(9, format!("agent {agent_id} asks for a signed link: {url}"));
    let image = api.http.get(&url).send().await?.error_for_status()?;
    let content_type = image
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = image.bytes().await?;
    step(
        10,
        format!(
            "the browser loads it without a token: {content_type}, {} bytes, PNG signature {}",
            bytes.len(),
            if bytes.starts_with(b"\x89PNG") {
                "ok"
            } else {
                "MISSING"
            }
        ),
    );
    Ok(())
}

/// `cargo xtask simulate inbound --from N --text T [--media image|voice|document|video]`.
pub fn simulate_inbound(from: &str, text: &str, media: Option<&str>) -> Result<()> {
    let spec = match media {
        None if text.is_empty() => bail!("--text or --media is needed"),
        None => whatsapp_simulator::InboundSpec::text(from, text),
        Some(kind) => {
            let kind = match kind {
                "image" => whatsapp_simulator::SampleKind::Image,
                "voice" => whatsapp_simulator::SampleKind::Voice,
                "document" => whatsapp_simulator::SampleKind::Document,
                "video" => whatsapp_simulator::SampleKind::Video,
                other => bail!("--media {other:?}: expected image, voice, document or video"),
            };
            let mut media = whatsapp_simulator::InboundMedia::new(kind);
            if !text.is_empty() && kind != whatsapp_simulator::SampleKind::Voice {
                media.caption = Some(text.to_owned());
            }
            if kind == whatsapp_simulator::SampleKind::Document {
                media.filename = Some("documento.pdf".into());
            }
            whatsapp_simulator::InboundSpec::media(from, media)
        }
    };
    tokio::runtime::Runtime::new()?.block_on(async {
        let injected = SimulatorClient::new(local::simulator_url())
            .inject(&spec)
            .await
            .context("is `cargo xtask up` running? the simulator did not answer")?;
        println!(
            "injected {} from {}: gateway answered {}",
            injected.wamid,
            whatsapp::mask_phone(from),
            injected
                .status_code_from_gateway
                .map_or("nothing".to_string(), |c| c.to_string())
        );
        Ok(())
    })
}
