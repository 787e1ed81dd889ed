//! What the host scheduler needs to know about a client's request line, and nothing more.
//!
//! lonc does not parse requests (protocol 2.1): it only recognises the special forms of
//! protocol 2.2 and makes a *loggable* form of a request so that passwords never reach a log.
//! Lines passed here carry no trailing LF.

/// The reply a client gets when its request could not be carried (protocol 2.3).
pub const CON_LOST: &[u8] = b"con_lost";

/// The exact line that asks a loncnew child to drop every lond connection (protocol 2.2).
pub const CLOSE_CONNECTION_EXIT: &[u8] = b"close_connection_exit";

/// The prefix of requests that the link encrypts before sending them (protocol 2.2, 3.4).
pub const ENCRYPT_PREFIX: &[u8] = b"encrypt:";

/// The longest loggable form, in bytes, before it is cut (a request is peer-controlled in the
/// sense that any local process may write one; a log line must stay readable).
pub const MAX_LOGGABLE: usize = 96;

/// True for the exact line `close_connection_exit`.
pub fn is_close_connection_exit(request: &[u8]) -> bool {
    request == CLOSE_CONNECTION_EXIT
}

/// True for a request the link must encrypt (`encrypt:<cmd>`).
pub fn is_encrypted(request: &[u8]) -> bool {
    request.starts_with(ENCRYPT_PREFIX)
}

/// The loggable form of a request: its first two `:`-separated fields, `cmd:subcmd`
/// (loncnew's `getLoggableRequest`). For `encrypt:passwd:dom:user:old:new` this is
/// `encrypt:passwd`; for a request without a colon it is the whole verb.
///
/// The result is cut at [`MAX_LOGGABLE`] bytes and every byte that is not printable ASCII is
/// shown as `?`, so that nothing a client writes can forge or break a log line.
pub fn loggable(request: &[u8]) -> String {
    let mut fields = 0;
    let mut end = request.len();
    for (i, &b) in request.iter().enumerate() {
        if b == b':' {
            fields += 1;
            if fields == 2 {
                end = i;
                break;
            }
        }
    }
    printable(&request[..end])
}

/// The form of a request written to the permanent log (`S:<host>:<request>` records): the whole
/// request, except for `encrypt:` requests, which are reduced to their [`loggable`] form so that
/// no password reaches `lonnet.perm.log`.
pub fn perm_loggable(request: &[u8]) -> String {
    if is_encrypted(request) {
        loggable(request)
    } else {
        printable_unbounded(request)
    }
}

fn printable(bytes: &[u8]) -> String {
    let cut = bytes.len() > MAX_LOGGABLE;
    let bytes = &bytes[..bytes.len().min(MAX_LOGGABLE)];
    let mut s = printable_unbounded(bytes);
    if cut {
        s.push_str("...");
    }
    s
}

fn printable_unbounded(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loggable_keeps_cmd_and_subcmd() {
        assert_eq!(loggable(b"get:msu:jdoe:environment"), "get:msu");
        assert_eq!(loggable(b"ping"), "ping");
        assert_eq!(loggable(b"put:msu"), "put:msu");
        assert_eq!(loggable(b""), "");
    }

    #[test]
    fn loggable_hides_encrypted_arguments() {
        let l = loggable(b"encrypt:passwd:msu:jdoe:oldpw:newpw");
        assert_eq!(l, "encrypt:passwd");
        assert!(!l.contains("oldpw") && !l.contains("newpw"));
        assert_eq!(
            perm_loggable(b"encrypt:passwd:msu:jdoe:oldpw:newpw"),
            "encrypt:passwd"
        );
        assert_eq!(perm_loggable(b"put:msu:jdoe:x=1"), "put:msu:jdoe:x=1");
    }

    #[test]
    fn loggable_is_bounded_and_printable() {
        let long = vec![b'a'; 1000];
        let l = loggable(&long);
        assert_eq!(l.len(), MAX_LOGGABLE + 3);
        // Cut only beyond the limit: exactly MAX_LOGGABLE bytes are shown whole.
        let exact = "a".repeat(MAX_LOGGABLE);
        assert_eq!(loggable(exact.as_bytes()), exact);
        assert_eq!(
            loggable(format!("{exact}b").as_bytes()),
            format!("{exact}...")
        );
        assert_eq!(loggable(b"bad\r\x1b[2J:x\xff:y"), "bad??[2J:x?");
    }

    #[test]
    fn special_forms() {
        assert!(is_close_connection_exit(b"close_connection_exit"));
        assert!(!is_close_connection_exit(b"close_connection_exit\n"));
        assert!(!is_close_connection_exit(b"close_connection_exit:x"));
        assert!(is_encrypted(b"encrypt:auth:msu:jdoe:pw"));
        assert!(!is_encrypted(b"enc:12:abcd"));
    }
}
