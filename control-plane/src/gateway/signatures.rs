//! Invocation signatures, checked in batches under load. A call that finds no other
//! call checking a signature checks its own at once, where it runs: at concurrency 1
//! nothing is added. A call that arrives while another checks hands its signature to a
//! verifier thread, which takes every signature waiting (up to [`MAX_BATCH`]) and checks
//! them as one Ed25519 batch ([`kiln_types::signature::check_all`]); a batch that fails
//! is checked one by one, so each call gets its own answer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use kiln_types::signature::{BadSignature, Unchecked, check_all};
use prometheus_client::metrics::counter::Counter;
use tokio::sync::oneshot;

/// Most signatures in one batch: larger batches save little more per signature.
const MAX_BATCH: usize = 64;

type Waiting = (Unchecked, oneshot::Sender<Result<(), BadSignature>>);

/// Checks invocation signatures, alone when idle and in batches under load.
pub struct Signatures {
    checking: AtomicUsize,
    verifier: mpsc::Sender<Waiting>,
}

impl Signatures {
    /// Starts the verifier thread; `in_batches` counts what it checks in batches.
    #[must_use]
    pub fn new(in_batches: Counter) -> Signatures {
        let (verifier, waiting) = mpsc::channel();
        // The thread ends when the sender goes, with the host.
        std::thread::Builder::new()
            .name("kiln-verify".into())
            .spawn(move || verify_batches(&waiting, &in_batches))
            .expect("invariant: the verifier thread can be started at start-up");
        Signatures {
            checking: AtomicUsize::new(0),
            verifier,
        }
    }

    /// Checks `signature`.
    ///
    /// # Errors
    /// [`BadSignature::Signature`] when it does not verify.
    pub async fn verify(&self, signature: Unchecked) -> Result<(), BadSignature> {
        let checking = Checking::enter(&self.checking);
        if checking.others == 0 {
            signature.check()
        } else {
            let (answer, answered) = oneshot::channel();
            match self.verifier.send((signature, answer)) {
                // The thread answers every signature it takes, so a dropped answer
                // would mean the thread is gone: the call is refused, not admitted.
                Ok(()) => answered
                    .await
                    .unwrap_or_else(|_| Err(BadSignature::Signature("(verifier gone)".into()))),
                Err(mpsc::SendError((signature, _))) => signature.check(),
            }
        }
    }
}

/// One call counted as checking until it is answered or dropped, so a call that goes
/// away while it waits does not leave the count raised.
struct Checking<'a> {
    count: &'a AtomicUsize,
    others: usize,
}

impl<'a> Checking<'a> {
    fn enter(count: &'a AtomicUsize) -> Checking<'a> {
        let others = count.fetch_add(1, Ordering::AcqRel);
        Checking { count, others }
    }
}

impl Drop for Checking<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The verifier thread: every signature waiting, one batch at a time.
fn verify_batches(waiting: &mpsc::Receiver<Waiting>, in_batches: &Counter) {
    while let Ok(first) = waiting.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match waiting.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        if batch.len() > 1 {
            in_batches.inc_by(batch.len() as u64);
        }
        let signatures: Vec<&Unchecked> = batch.iter().map(|(s, _)| s).collect();
        let results = check_all(&signatures);
        for ((signature, answer), ok) in batch.into_iter().zip(results) {
            let checked = if ok { Ok(()) } else { Err(signature.failure()) };
            // A call that went away needs no answer.
            let _ = answer.send(checked);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_types::keys::KeyKind;
    use kiln_types::signature::key_of;

    fn signed(message: &[u8], forged: bool) -> Unchecked {
        let signer = KeyKind::Cluster.generate();
        let signature = signer.sign(message).unwrap();
        let key = key_of(&signer.public_key()).unwrap();
        let sent: &[u8] = if forged { b"other bytes" } else { message };
        Unchecked::new(sent, &signature, key, &signer.public_key()).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn calls_in_flight_are_checked_together_and_each_gets_its_own_answer() {
        let signatures = std::sync::Arc::new(Signatures::new(Counter::default()));
        assert!(signatures.verify(signed(b"alone", false)).await.is_ok());
        assert!(signatures.verify(signed(b"alone", true)).await.is_err());
        let calls: Vec<_> = (0..300u16)
            .map(|i| {
                let signatures = signatures.clone();
                // Every seventh is forged.
                let signature = signed(&i.to_be_bytes(), i % 7 == 3);
                tokio::spawn(async move { (i, signatures.verify(signature).await.is_ok()) })
            })
            .collect();
        for call in calls {
            let (i, ok) = call.await.unwrap();
            assert_eq!(ok, i % 7 != 3, "call {i}");
        }
        assert_eq!(signatures.checking.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn a_call_dropped_while_it_waits_is_no_longer_counted() {
        // A verifier that never answers, and another call checking already.
        let (verifier, _never_answered) = mpsc::channel();
        let signatures = Signatures {
            checking: AtomicUsize::new(1),
            verifier,
        };
        let waited = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            signatures.verify(signed(b"left waiting", false)),
        )
        .await;
        assert!(waited.is_err(), "the verifier answered");
        assert_eq!(signatures.checking.load(Ordering::Acquire), 1);
    }

    #[tokio::test]
    async fn while_one_call_checks_the_others_are_batched() {
        let in_batches = Counter::default();
        let signatures = Signatures::new(in_batches.clone());
        // As if a call were checking its signature where it runs.
        signatures.checking.store(1, Ordering::Release);
        let waiting: Vec<_> = (0..50u16)
            .map(|i| (i, signed(&i.to_be_bytes(), i == 17)))
            .collect();
        let signatures = &signatures;
        let answers =
            futures::future::join_all(waiting.into_iter().map(|(i, signature)| async move {
                (i, signatures.verify(signature).await.is_ok())
            }))
            .await;
        for (i, ok) in answers {
            assert_eq!(ok, i != 17, "call {i}");
        }
        assert!(in_batches.get() >= 2, "{}", in_batches.get());
        assert_eq!(signatures.checking.load(Ordering::Acquire), 1);
    }
}
