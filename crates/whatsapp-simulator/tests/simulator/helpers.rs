//! An in-process simulator and a tiny webhook receiver standing in for the gateway.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};
use whatsapp::{GraphError, Status, WebhookBatch};
use whatsapp_simulator::{Simulator, SimulatorConfig, SimulatorHandle};

pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const TOKEN: &str = "test-access-token";
pub const APP_SECRET: &str = "test-app-secret";
pub const VERSION: &str = "v23.0";
/// A customer whose window the tests open.
pub const CUSTOMER: &str = "34600123456";

/// One webhook POST as the gateway would have received it.
#[derive(Debug, Clone)]
pub struct Captured {
    pub signature: Option<String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Captured {
    /// Verifies the signature the way the gateway does.
    pub fn verify(&self) {
        whatsapp::verify_signature(APP_SECRET.as_bytes(), &self.body, self.signature.as_deref())
            .unwrap_or_else(|e| {
                panic!(
                    "bad signature ({e}) on {}",
                    String::from_utf8_lossy(&self.body)
                )
            });
    }

    pub fn batch(&self) -> WebhookBatch {
        WebhookBatch::parse(&self.body).unwrap()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// The gateway's stand-in: records every POST, answers 200 (or 500 when told).
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    captured: Arc<Mutex<Vec<Captured>>>,
    fail_next: Arc<AtomicU32>,
    fail_status: Arc<AtomicU32>,
}

impl Receiver {
    pub async fn start() -> Self {
        let captured: Arc<Mutex<Vec<Captured>>> = Arc::default();
        let fail_next = Arc::new(AtomicU32::new(0));
        let fail_status = Arc::new(AtomicU32::new(500));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = (captured.clone(), fail_next.clone(), fail_status.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(state.clone()))
                .route("/webhooks/whatsapp", web::post().to(receive))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/webhooks/whatsapp"),
            captured,
            fail_next,
            fail_status,
        }
    }

    /// The next `n` POSTs answer `status` (after being recorded).
    pub fn fail_next(&self, n: u32, status: u16) {
        self.fail_status.store(u32::from(status), Ordering::SeqCst);
        self.fail_next.store(n, Ordering::SeqCst);
    }

    pub fn captured(&self) -> Vec<Captured> {
        self.captured.lock().unwrap().clone()
    }

    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Captured> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.captured();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} webhooks, got {}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Every status in every captured webhook, in arrival order.
    pub fn statuses(&self) -> Vec<Status> {
        self.captured()
            .iter()
            .flat_map(|c| {
                c.verify();
                let batch = c.batch();
                batch.statuses().map(|(_, s)| s.clone()).collect::<Vec<_>>()
            })
            .collect()
    }
}

type ReceiverState = (Arc<Mutex<Vec<Captured>>>, Arc<AtomicU32>, Arc<AtomicU32>);

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<ReceiverState>,
) -> HttpResponse {
    let (captured, fail_next, fail_status) = state.get_ref();
    captured.lock().unwrap().push(Captured {
        signature: req
            .headers()
            .get(whatsapp::SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        body: body.to_vec(),
        at: Instant::now(),
    });
    let failing = fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        let status = u16::try_from(fail_status.load(Ordering::SeqCst)).unwrap();
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
    } else {
        HttpResponse::Ok().finish()
    }
}

/// A simulator wired to a receiver.
pub struct TestSim {
    pub sim: SimulatorHandle,
    pub gateway: Receiver,
    pub http: reqwest::Client,
}

/// A response of the messages endpoint.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn wamid(&self) -> String {
        assert_eq!(self.status, 200, "not accepted: {}", self.body);
        self.body["messages"][0]["id"].as_str().unwrap().to_string()
    }

    /// The error code, checking the envelope parses like the senders parse it.
    pub fn code(&self) -> i64 {
        let e = GraphError::parse(self.body.to_string().as_bytes())
            .unwrap_or_else(|| panic!("not a Graph error envelope: {}", self.body));
        e.code.unwrap()
    }

    pub fn message(&self) -> String {
        self.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

pub async fn spawn() -> TestSim {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(adjust: impl FnOnce(&mut SimulatorConfig)) -> TestSim {
    service_runtime::telemetry::init_for_tests();
    let gateway = Receiver::start().await;
    let mut config = SimulatorConfig::for_tests(PHONE_NUMBER_ID, TOKEN, APP_SECRET);
    config.webhook_url = Some(gateway.url.clone());
    adjust(&mut config);
    let sim = Simulator::start(config).await.expect("simulator starts");
    TestSim {
        sim,
        gateway,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
    }
}

impl TestSim {
    pub async fn send(&self, body: Value) -> Answer {
        self.send_as(Some(TOKEN), PHONE_NUMBER_ID, body).await
    }

    pub async fn send_as(&self, token: Option<&str>, phone_number_id: &str, body: Value) -> Answer {
        let url = format!(
            "{}/{VERSION}/{phone_number_id}/messages",
            self.sim.graph_url()
        );
        let mut req = self.http.post(url).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.json().await.unwrap_or(Value::Null);
        Answer { status, body }
    }
}

pub fn text(to: &str, body: &str) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": { "body": body, "preview_url": false }
    })
}

pub fn template(to: &str, name: &str, language: &str) -> Value {
    json!({
        "messaging_product": "whatsapp",
        "to": to,
        "type": "template",
        "template": { "name": name, "language": { "code": language } }
    })
}

/// The simulator's webhook log once it holds `n` attempts (the receiver sees a
/// POST a moment before the simulator has recorded the answer).
pub async fn deliveries(
    sim: &SimulatorHandle,
    n: usize,
) -> Vec<whatsapp_simulator::WebhookDelivery> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = sim.webhook_deliveries();
        if got.len() >= n || Instant::now() >= deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
