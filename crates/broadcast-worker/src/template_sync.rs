//! The template sync: the WhatsApp Business Account's templates kept in
//! `message_templates`, at the worker's start, every `TEMPLATE_SYNC_SECS`, and within a
//! few seconds of an admin's `request_template_sync()`. One worker syncs at a time (a
//! lease in `svc.template_syncs`); the listing is paged by Meta's cursor and each page is
//! one `svc.upsert_templates` call. Only a complete listing marks templates removed.
//!
//! It runs in the broadcast worker because templates are what broadcasts send, and the
//! gateway's job is to answer webhooks fast.

use std::time::Duration;

use sending::graph::{GraphClient, TemplateListFailure};
use svc_client::{ClaimedTemplateSync, ListedTemplate, SvcClient, SvcError, TemplateSyncCounts};
use tokio::sync::watch;
use whatsapp::MessageTemplate;

/// How often the worker asks whether a sync is due (an admin's request waits at most this).
pub const POLL: Duration = Duration::from_secs(2);
/// Templates per page (Meta's maximum page size for this edge is larger; 100 keeps each
/// database call small).
pub const PAGE_SIZE: u32 = 100;
/// A sync that stops answering for this long is taken over by another worker.
pub const LEASE_SECONDS: u32 = 120;

/// `WHATSAPP_WABA_ID` and `TEMPLATE_SYNC_SECS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateSyncSettings {
    /// The WhatsApp Business Account whose templates are synced; no sync without it.
    pub waba_id: Option<String>,
    /// Between scheduled syncs (default an hour).
    pub every: Duration,
}

impl Default for TemplateSyncSettings {
    fn default() -> Self {
        Self {
            waba_id: None,
            every: Duration::from_secs(3600),
        }
    }
}

/// Why a sync ended early.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("listing the templates failed: {0}")]
    Graph(#[from] TemplateListFailure),
    #[error("the database refused the sync: {0}")]
    Database(#[from] SvcError),
}

/// Runs until `stop` turns true: claims due syncs and runs them.
pub async fn run(
    svc: SvcClient,
    graph: GraphClient,
    settings: TemplateSyncSettings,
    owner: String,
    mut stop: watch::Receiver<bool>,
) {
    let Some(waba_id) = settings.waba_id.clone() else {
        tracing::warn!("WHATSAPP_WABA_ID is not set: templates are not synced with WhatsApp");
        return;
    };
    let every = u32::try_from(settings.every.as_secs())
        .unwrap_or(u32::MAX)
        .max(1);
    let mut at_start = true;
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = stop.changed() => if changed.is_err() { break },
        }
        if *stop.borrow() {
            break;
        }
        match svc
            .claim_template_sync(&owner, at_start, every, LEASE_SECONDS)
            .await
        {
            Ok(claimed) => {
                at_start = false;
                if let Some(sync) = claimed {
                    let _ = sync_once(&svc, &graph, &waba_id, &owner, &sync).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "claiming a template sync failed; will try again"),
        }
    }
    tracing::info!("template sync stopped");
}

/// Runs one claimed sync to its end (recorded as finished, with the error if any).
pub async fn sync_once(
    svc: &SvcClient,
    graph: &GraphClient,
    waba_id: &str,
    owner: &str,
    sync: &ClaimedTemplateSync,
) -> Result<TemplateSyncCounts, SyncError> {
    let listed = list_and_write(svc, graph, waba_id, owner, sync.id).await;
    let problem = match &listed {
        Ok(None) => None,
        Ok(Some(incomplete)) => Some(incomplete.clone()),
        Err(e) => Some(e.to_string()),
    };
    let finished = svc
        .finish_template_sync(sync.id, owner, problem.as_deref())
        .await;
    match (&listed, &finished) {
        (Ok(None), Ok(counts)) => {
            metrics::counter!("template_syncs_total", "outcome" => "complete").increment(1);
            tracing::info!(sync_id = sync.id, reason = %sync.reason, listed = counts.listed,
                created = counts.created, changed = counts.changed, removed = counts.removed,
                "templates synced");
        }
        _ => {
            metrics::counter!("template_syncs_total", "outcome" => "incomplete").increment(1);
            tracing::warn!(sync_id = sync.id, reason = %sync.reason,
                problem = problem.as_deref().unwrap_or(""),
                finish_error = finished.as_ref().err().map(ToString::to_string).unwrap_or_default(),
                "template sync incomplete: nothing was marked removed");
        }
    }
    listed?;
    Ok(finished?)
}

/// Lists every page and writes it; `Ok(Some(why))` when templates had to be left out
/// (then the listing is not complete and nothing may be marked removed).
async fn list_and_write(
    svc: &SvcClient,
    graph: &GraphClient,
    waba_id: &str,
    owner: &str,
    sync_id: i64,
) -> Result<Option<String>, SyncError> {
    let mut after: Option<String> = None;
    let mut left_out = Vec::new();
    loop {
        let page = graph
            .list_templates(waba_id, after.as_deref(), PAGE_SIZE)
            .await?;
        left_out.extend(page.problems.iter().cloned());
        let mut rows = Vec::with_capacity(page.templates.len());
        for t in &page.templates {
            match listed(t) {
                Some(row) => rows.push(row),
                None => left_out.push(format!("template {}: unknown status {:?}", t.id, t.status)),
            }
        }
        svc.upsert_templates(sync_id, owner, &rows).await?;
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok((!left_out.is_empty()).then(|| {
        format!(
            "{} template(s) could not be stored: {}",
            left_out.len(),
            left_out.join("; ")
        )
    }))
}

/// A template as `svc.upsert_templates` stores it; `None` for a status we can't store.
pub fn listed(t: &MessageTemplate) -> Option<ListedTemplate> {
    Some(ListedTemplate {
        id: t.id.clone(),
        name: t.name.clone(),
        language: t.language.clone(),
        status: t.status.as_db_str()?,
        category: t.category.as_db_str(),
        quality_score: t.quality_score.map(|q| q.as_db_str()),
        parameter_format: if t.named_parameters {
            "named"
        } else {
            "positional"
        },
        components: t.components.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use whatsapp::{QualityScore, TemplateCategory, TemplateStatus};

    fn template(status: TemplateStatus) -> MessageTemplate {
        MessageTemplate {
            id: "1".into(),
            name: "promo".into(),
            language: "es".into(),
            status,
            category: TemplateCategory::Unknown("LEGACY".into()),
            quality_score: Some(QualityScore::Yellow),
            named_parameters: true,
            components: vec![],
        }
    }

    #[test]
    fn templates_are_stored_in_lower_case_and_unknown_statuses_are_left_out() {
        let row = listed(&template(TemplateStatus::PendingDeletion)).unwrap();
        assert_eq!(row.status, "pending_deletion");
        assert_eq!(row.category, None);
        assert_eq!(row.quality_score, Some("yellow"));
        assert_eq!(row.parameter_format, "named");
        assert!(listed(&template(TemplateStatus::Unknown("FROZEN".into()))).is_none());
    }
}
