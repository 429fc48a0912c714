//! `notifications.unsubscribe`: ending the pull subscriptions the host no
//! longer wants (a person removed, disabled or moved to push).
//!
//! One `Unsubscribe` per watch, with the subscription's affinity. A
//! subscription Exchange no longer knows counts as ended. A push
//! subscription is not sent to Exchange (which only ends those through the
//! callback's answer): once the host has dropped it, its next notification is
//! answered `Unsubscribe` by the webhook, so it counts as ended here too.

use super::{Batch, Watch, problem_of};
use crate::ews::unsubscribe as ews_unsubscribe;
use crate::platform::{Level, Platform, SyncMode};
use crate::sync::Problem;

/// Ends every watch's subscription; the answers are in the order of
/// `watches`.
// The answers mirror the WIT `result<_, sync-problem>`.
#[allow(clippy::result_large_err)]
pub fn unsubscribe(platform: &mut dyn Platform, watches: &[Watch]) -> Vec<Result<(), Problem>> {
    let mut batch = Batch::new(platform);
    watches
        .iter()
        .map(|watch| {
            let subscription = &watch.subscription;
            let mailbox = subscription.mailbox.to_ascii_lowercase();
            if subscription.mode == SyncMode::O365 {
                platform.log(
                    Level::Debug,
                    &format!("the push subscription of {mailbox} ends with its next notification"),
                );
                return Ok(());
            }
            let index = batch.target(&watch.person).map_err(|e| problem_of(&e))?;
            let (target, pacer) = batch.parts(index);
            let client = target.client();
            let result = pacer.run(platform, &mailbox, true, |p| {
                ews_unsubscribe::unsubscribe(
                    &client,
                    p,
                    &mailbox,
                    &subscription.id,
                    subscription.affinity.as_deref(),
                )
            });
            match &result {
                Ok(()) => platform.log(
                    Level::Info,
                    &format!("the pull subscription of {mailbox} is ended"),
                ),
                Err(e) => platform.log(
                    Level::Warn,
                    &format!(
                        "ending the subscription of {mailbox} failed: {}",
                        e.message()
                    ),
                ),
            }
            result.map_err(|e| problem_of(&e))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ews::calendar_item::test_support::{sent_operation, soap};
    use crate::ews::xml::Ns;
    use crate::notifications::test_support::{person, platform};
    use crate::platform::Subscription;
    use crate::testing::ews_sample;

    fn watch(mailbox: &str, mode: SyncMode) -> Watch {
        Watch {
            person: person(mailbox, SyncMode::O365Pull),
            subscription: Subscription {
                mailbox: mailbox.into(),
                mode,
                id: format!("SUB-{mailbox}"),
                watermark: "W".into(),
                affinity: None,
            },
        }
    }

    #[test]
    fn pull_subscriptions_are_ended_and_unknown_ones_count_as_ended() {
        let mut platform = platform();
        platform
            .answers
            .push_back(soap(&ews_sample!("unsubscribe-response.xml")[..]));
        platform.answers.push_back(soap(
            &ews_sample!("unsubscribe-error-subscriptionnotfound.xml")[..],
        ));
        let answers = unsubscribe(
            &mut platform,
            &[
                watch("room1@contoso.com", SyncMode::O365Pull),
                watch("alice@contoso.com", SyncMode::O365),
                watch("room2@contoso.com", SyncMode::O365Pull),
            ],
        );
        assert!(answers.iter().all(Result::is_ok), "{answers:?}");
        assert_eq!(platform.requests.len(), 2, "nothing sent for the push one");
        let ids: Vec<String> = (0..2)
            .map(|i| {
                sent_operation(&platform, i)
                    .child(&Ns::Messages, "SubscriptionId")
                    .unwrap()
                    .text
                    .clone()
            })
            .collect();
        assert_eq!(ids, ["SUB-room1@contoso.com", "SUB-room2@contoso.com"]);
    }

    #[test]
    fn a_failure_is_a_problem_with_a_fix() {
        let mut platform = platform();
        platform.wait_answer = false;
        let answers = unsubscribe(
            &mut platform,
            &[watch("room1@contoso.com", SyncMode::O365Pull)],
        );
        let problem = answers[0].as_ref().unwrap_err();
        assert_eq!(problem.code, "transport");
        assert!(problem.fix.is_some() && problem.cause.is_some());
    }
}
