//! The process title: what `ps`, `top` and `/proc/<pid>/cmdline` show for the daemon, as
//! loncnew's `$0` did.
//!
//! Linux shows a process's command line from the memory its arguments were passed in; a process
//! may overwrite it. The arguments alone are short (`lonc` is five bytes), so the title may also
//! take the memory of the environment strings, which follow them, once every environment
//! variable has been copied elsewhere (`setenv` keeps its own copy): the approach of
//! PostgreSQL's and nginx's process titles. When the title fills the arguments' memory, Linux
//! reads it up to its first NUL, however far into the environment's memory that is.

use std::ffi::c_char;
use std::io;

/// The memory the title is written into, claimed once at start-up.
#[derive(Debug)]
pub struct ProcessTitle {
    start: *mut u8,
    len: usize,
}

// SAFETY: the memory belongs to the process for its whole life, and is only written through
// `&mut self`; no other code reads or writes it once claimed (see `claim`).
unsafe impl Send for ProcessTitle {}

unsafe extern "C" {
    /// The C library's environment: the `name=value` strings `getenv` reads.
    static environ: *const *const c_char;
}

/// The memory areas of the arguments and the environment strings, from `/proc/self/stat`
/// (fields 48 to 51, Linux 3.5 and later): `(arg_start, arg_end, env_start, env_end)`.
fn areas(stat: &str) -> Option<(usize, usize, usize, usize)> {
    // The command name (field 2) is in parentheses and may hold spaces and parentheses: the
    // fields that follow start after the last `)`, with field 3.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<usize>().ok();
    Some((field(48)?, field(49)?, field(50)?, field(51)?))
}

impl ProcessTitle {
    /// Claims the memory of the command line for the title: the arguments' strings, and the
    /// environment's if they follow at once and every variable could be moved out of them
    /// (re-set with `setenv`). Afterwards `std::env::args` no longer gives the arguments: read
    /// them first.
    ///
    /// # Safety
    ///
    /// No other thread may run, and no other code may hold a pointer into the arguments or the
    /// environment (from `getenv`, `std::env::args_os`, ...).
    pub unsafe fn claim() -> io::Result<ProcessTitle> {
        let stat = std::fs::read_to_string("/proc/self/stat")?;
        let (arg_start, arg_end, env_start, env_end) = areas(&stat).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "no memory areas in /proc/self/stat",
            )
        })?;
        if arg_start == 0 || arg_end <= arg_start {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "no argument memory",
            ));
        }
        // SAFETY: no other thread runs (the caller's promise).
        let end = if env_start == arg_end
            && env_end > env_start
            && unsafe { move_environment(env_start, env_end) }
        {
            env_end
        } else {
            arg_end
        };
        Ok(ProcessTitle {
            start: arg_start as *mut u8,
            len: end - arg_start,
        })
    }

    /// The longest title that can be shown, in bytes.
    pub fn capacity(&self) -> usize {
        self.len - 1
    }

    /// Shows `title`, cut to [`ProcessTitle::capacity`] bytes (at a character boundary).
    pub fn set(&mut self, title: &str) {
        let mut n = title.len().min(self.capacity());
        while !title.is_char_boundary(n) {
            n -= 1;
        }
        // SAFETY: `start..start + len` is the process's argument (and moved-out environment)
        // memory, writable for the process's life; nothing else uses it since `claim`.
        let area = unsafe { std::slice::from_raw_parts_mut(self.start, self.len) };
        area[..n].copy_from_slice(&title.as_bytes()[..n]);
        area[n..].fill(0);
    }
}

/// Copies every environment variable out of `env_start..env_end` (`setenv` allocates its own
/// copy) and reports whether none of `environ` points into it any more.
///
/// # Safety
///
/// No other thread may run.
unsafe fn move_environment(env_start: usize, env_end: usize) -> bool {
    for (name, value) in std::env::vars_os() {
        // SAFETY: single-threaded (the caller's promise).
        unsafe { std::env::set_var(name, value) };
    }
    // SAFETY: single-threaded, so `environ` is a NULL-terminated array that nothing changes
    // while it is read.
    unsafe {
        let mut p = environ;
        if p.is_null() {
            return true;
        }
        while !(*p).is_null() {
            let at = *p as usize;
            if (env_start..env_end).contains(&at) {
                // A string `vars_os` skips (no `=`, or a name given twice): keep its memory.
                return false;
            }
            p = p.add(1);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_areas_are_fields_48_to_51_after_the_command_name() {
        // Fields 3 to 52 after a command name holding a space and parentheses; field n
        // holds n × 1000.
        let rest: Vec<String> = (3..=52).map(|n| (n * 1000).to_string()).collect();
        let stat = format!("4242 (lonc (x) y) {}", rest.join(" "));
        assert_eq!(areas(&stat), Some((48_000, 49_000, 50_000, 51_000)));
        // This process's own line: the arguments, then the environment right after them.
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        let (arg_start, arg_end, env_start, env_end) = areas(&own).unwrap();
        assert!(arg_start < arg_end && arg_end <= env_start && env_start < env_end);
        assert_eq!(areas("4242 (lonc) S 1 2 3"), None);
        assert_eq!(areas("garbage"), None);
    }

    #[test]
    fn a_title_is_cut_to_the_memory_at_a_character_boundary() {
        let mut memory = vec![b'x'; 8];
        let mut title = ProcessTitle {
            start: memory.as_mut_ptr(),
            len: memory.len(),
        };
        assert_eq!(title.capacity(), 7);
        title.set("lonc: 3");
        assert_eq!(&memory, b"lonc: 3\0");
        let mut title = ProcessTitle {
            start: memory.as_mut_ptr(),
            len: memory.len(),
        };
        title.set("ab");
        assert_eq!(&memory, b"ab\0\0\0\0\0\0");
        let mut title = ProcessTitle {
            start: memory.as_mut_ptr(),
            len: memory.len(),
        };
        title.set("lonc:é日");
        // "lonc:é" is 7 bytes; 日 (3 bytes) would not fit whole.
        assert_eq!(&memory, "lonc:é\0".as_bytes());
    }
}
