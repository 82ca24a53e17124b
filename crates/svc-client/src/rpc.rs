//! What one typed function is to its SQL function: the arguments it sends (a serde
//! struct whose field names are the SQL argument names), their SQL types, and the answer
//! it decodes. The contract test (`tests/contract.rs`) compares all of it with `pg_proc`.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// One call of one `svc` function.
pub(crate) trait Rpc: Serialize {
    /// The SQL function's name in schema `svc`.
    const FUNCTION: &'static str;
    /// Each argument sent, with its SQL type as `format_type` spells it. Arguments the
    /// SQL gives a default (`p_now`) may be left out.
    const ARGS: &'static [(&'static str, &'static str)];
    /// jsonb arguments the SQL stores as documents without reading their keys (an error
    /// for people to read). Examples leave the documents inside other arguments empty.
    const DOCUMENTS: &'static [&'static str] = &[];
    /// The SQL result type as `format_type` spells it.
    const RETURNS: &'static str;
    /// The decoded answer.
    type Answer: DeserializeOwned + Serialize;

    /// A call as the services make it, for the contract test.
    fn example() -> Self;
}
