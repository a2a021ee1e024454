//! One POSIX getopt for every binary, with skalibs' `subgetopt` semantics (spec: SVSCAN.md
//! "svscan command line", item 11 of its traps; SUPERVISE.md item 11).
//!
//! Options come before operands and are never permuted: the first word that is not an
//! option, or a lone `-`, ends them and is the first operand; `--` ends them and is consumed.
//! Short options bundle (`-ab`), and a value is attached (`-t5000`) or the next word
//! (`-t 5000`, whatever that word looks like: `-d -t` gives `-d` the value `-t`). Each
//! occurrence is returned in order, so a caller that assigns as it goes keeps the last one.
//! Long options (`--name VALUE`, `--name=VALUE`, flags) exist only where a program declares
//! them: s6 2.12 has none, so `--x` is an unknown option unless declared. There is no
//! abbreviation of long names and no permutation, unlike GNU `getopt_long` and clap.
//!
//! Errors carry no text: on any of them the caller prints its one usage line and exits 100,
//! as every s6 program does.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// A long option a program accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Long {
    /// The name without the leading `--`.
    pub name: &'static str,
    /// Whether it takes a value (`--name VALUE` or `--name=VALUE`).
    pub value: bool,
}

/// Which option was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// A short option letter (`-t`).
    Short(u8),
    /// A declared long option, by its name (`--timeout`).
    Long(&'static str),
}

/// One option occurrence, with its value if it takes one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opt<'a> {
    pub key: Key,
    pub value: Option<&'a OsStr>,
}

/// Why the options could not be read; every one is a usage error (exit 100).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// A letter or long name the program does not declare (`-x`, `--help`, `---`).
    Unknown,
    /// An option that takes a value ended the arguments (`-t` last).
    MissingValue,
    /// `--flag=VALUE` for a long option that takes none.
    UnexpectedValue,
    /// A value the program refuses (not a number, ...): for callers, which check values.
    BadValue,
}

/// The options of `args` (the arguments after the program name), in order; after the last
/// one (or the first error), [`Getopt::operands`] are the rest.
///
/// `shorts` is a getopt option string: each letter, followed by `:` if it takes a value
/// (`"c:C:L:t:d:X:"`, `"zabhitqnN"`).
#[derive(Debug)]
pub struct Getopt<'a, S> {
    args: &'a [S],
    shorts: &'static [u8],
    longs: &'a [Long],
    /// The word being read.
    index: usize,
    /// The next letter to read in `args[index]`; 0 = not inside a bundle.
    pos: usize,
    done: bool,
}

impl<'a, S: AsRef<OsStr>> Getopt<'a, S> {
    #[must_use]
    pub fn new(args: &'a [S], shorts: &'static str, longs: &'a [Long]) -> Self {
        Getopt {
            args,
            shorts: shorts.as_bytes(),
            longs,
            index: 0,
            pos: 0,
            done: false,
        }
    }

    /// The operands: everything after the options. Meaningful once the iterator has
    /// returned `None`.
    #[must_use]
    pub fn operands(&self) -> &'a [S] {
        self.args.get(self.index..).unwrap_or_default()
    }

    fn word(&self, index: usize) -> Option<&'a [u8]> {
        self.args.get(index).map(|a| a.as_ref().as_bytes())
    }

    /// Whether `letter` is declared, and whether it takes a value.
    fn short(&self, letter: u8) -> Option<bool> {
        let at = self.shorts.iter().position(|&c| c == letter && c != b':')?;
        Some(self.shorts.get(at + 1) == Some(&b':'))
    }

    fn next_long(&mut self, body: &'a [u8]) -> Result<Opt<'a>, Error> {
        let (name, attached) = match body.iter().position(|&b| b == b'=') {
            Some(eq) => (&body[..eq], Some(&body[eq + 1..])),
            None => (body, None),
        };
        let long = self
            .longs
            .iter()
            .find(|l| l.name.as_bytes() == name)
            .ok_or(Error::Unknown)?;
        self.index += 1;
        let value = match (long.value, attached) {
            (false, None) => None,
            (false, Some(_)) => return Err(Error::UnexpectedValue),
            (true, Some(v)) => Some(v),
            (true, None) => {
                let v = self.word(self.index).ok_or(Error::MissingValue)?;
                self.index += 1;
                Some(v)
            }
        };
        Ok(Opt {
            key: Key::Long(long.name),
            value: value.map(OsStr::from_bytes),
        })
    }

    fn next_short(&mut self, word: &'a [u8]) -> Result<Opt<'a>, Error> {
        let letter = word[self.pos];
        self.pos += 1;
        let takes_value = self.short(letter).ok_or(Error::Unknown)?;
        let value = if takes_value {
            let attached = &word[self.pos..];
            self.index += 1;
            self.pos = 0;
            if attached.is_empty() {
                let v = self.word(self.index).ok_or(Error::MissingValue)?;
                self.index += 1;
                Some(v)
            } else {
                Some(attached)
            }
        } else {
            if self.pos == word.len() {
                self.index += 1;
                self.pos = 0;
            }
            None
        };
        Ok(Opt {
            key: Key::Short(letter),
            value: value.map(OsStr::from_bytes),
        })
    }
}

impl<'a, S: AsRef<OsStr>> Iterator for Getopt<'a, S> {
    type Item = Result<Opt<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let Some(word) = self.word(self.index) else {
            self.done = true;
            return None;
        };
        let item = if self.pos > 0 {
            self.next_short(word)
        } else {
            match word {
                b"--" => {
                    self.index += 1;
                    self.done = true;
                    return None;
                }
                [b'-', b'-', body @ ..] => self.next_long(body),
                [b'-', _, ..] => {
                    self.pos = 1;
                    self.next_short(word)
                }
                // A lone `-`, or a word that is not an option: the first operand.
                _ => {
                    self.done = true;
                    return None;
                }
            }
        };
        self.done = item.is_err();
        Some(item)
    }
}

/// An unsigned decimal number consumed whole, as skalibs' `uint0_scan`: no sign, no
/// leading or trailing junk, no overflow. `None` (no value) is refused too.
///
/// # Errors
/// [`Error::BadValue`].
pub fn unsigned(value: Option<&OsStr>) -> Result<u32, Error> {
    value.and_then(decimal).ok_or(Error::BadValue)
}

fn decimal(value: &OsStr) -> Option<u32> {
    let digits = value.as_bytes();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONGS: &[Long] = &[
        Long {
            name: "timeout",
            value: true,
        },
        Long {
            name: "verbose",
            value: false,
        },
    ];

    /// Each option as `-x`/`--name` with `=value`, then `|` and the operands; or the error.
    fn run(args: &[&str]) -> Result<String, Error> {
        let mut g = Getopt::new(args, "abt:", LONGS);
        let mut out = String::new();
        for opt in g.by_ref() {
            let opt = opt?;
            match opt.key {
                Key::Short(c) => out.push_str(&format!("-{}", char::from(c))),
                Key::Long(name) => out.push_str(&format!("--{name}")),
            }
            if let Some(v) = opt.value {
                out.push_str(&format!("={}", v.to_string_lossy()));
            }
            out.push(' ');
        }
        out.push('|');
        for operand in g.operands() {
            out.push_str(&format!(" {operand}"));
        }
        Ok(out)
    }

    fn ok(args: &[&str], expected: &str) {
        assert_eq!(run(args), Ok(expected.to_owned()), "{args:?}");
    }

    #[test]
    fn flags_bundle_and_come_back_in_order_with_repeats() {
        ok(&["-a", "-b", "x"], "-a -b | x");
        ok(&["-ba", "-ab", "x"], "-b -a -a -b | x");
        ok(&["-aaa"], "-a -a -a |");
    }

    #[test]
    fn a_value_is_attached_or_the_next_word_whatever_it_looks_like() {
        ok(&["-t5000", "x"], "-t=5000 | x");
        ok(&["-t", "5000", "x"], "-t=5000 | x");
        ok(&["-at5", "-b"], "-a -t=5 -b |");
        ok(&["-at", "5"], "-a -t=5 |");
        ok(&["-t", "-a"], "-t=-a |");
        ok(&["-t", "--"], "-t=-- |");
        ok(&["-t", ""], "-t= |");
        // skalibs takes everything after the letter, `=` included.
        ok(&["-t=5"], "-t==5 |");
    }

    #[test]
    fn the_first_operand_ends_the_options_without_permutation() {
        ok(&["x", "-a", "-t", "5"], "| x -a -t 5");
        ok(&["-a", "x", "-b"], "-a | x -b");
    }

    #[test]
    fn a_lone_dash_is_an_operand_and_ends_the_options() {
        ok(&["-a", "-", "-b"], "-a | - -b");
    }

    #[test]
    fn double_dash_ends_the_options_and_is_consumed() {
        ok(&["-a", "--", "-b"], "-a | -b");
        ok(&["--", "--", "x"], "| -- x");
        ok(&["--"], "|");
    }

    #[test]
    fn declared_long_options_take_their_value_separate_or_after_an_equals_sign() {
        ok(&["--timeout", "7", "x"], "--timeout=7 | x");
        ok(&["--timeout=7", "x"], "--timeout=7 | x");
        ok(&["--timeout=", "x"], "--timeout= | x");
        ok(&["--timeout", "-a"], "--timeout=-a |");
        ok(&["--verbose", "-a", "x"], "--verbose -a | x");
    }

    #[test]
    fn unknown_options_missing_and_unexpected_values_are_errors() {
        assert_eq!(run(&["-x"]), Err(Error::Unknown));
        assert_eq!(run(&["-ax"]), Err(Error::Unknown));
        assert_eq!(run(&["-:"]), Err(Error::Unknown));
        assert_eq!(run(&["--help"]), Err(Error::Unknown));
        assert_eq!(run(&["---"]), Err(Error::Unknown));
        assert_eq!(
            run(&["--time", "5"]),
            Err(Error::Unknown),
            "no abbreviation"
        );
        assert_eq!(run(&["--timeoutx"]), Err(Error::Unknown));
        assert_eq!(run(&["-t"]), Err(Error::MissingValue));
        assert_eq!(run(&["-at"]), Err(Error::MissingValue));
        assert_eq!(run(&["--timeout"]), Err(Error::MissingValue));
        assert_eq!(run(&["--verbose=1"]), Err(Error::UnexpectedValue));
    }

    #[test]
    fn nothing_is_returned_after_an_error() {
        let args = ["-x", "-a"];
        let mut g = Getopt::new(&args, "a", &[]);
        assert_eq!(g.next(), Some(Err(Error::Unknown)));
        assert_eq!(g.next(), None);
    }

    #[test]
    fn without_declared_long_options_every_long_option_is_unknown() {
        let args = ["--timeout", "5"];
        let mut g = Getopt::new(&args, "t:", &[]);
        assert_eq!(g.next(), Some(Err(Error::Unknown)));
    }

    #[test]
    fn words_that_are_not_utf8_pass_through_as_they_are() {
        use std::ffi::OsString;
        use std::os::unix::ffi::OsStringExt;
        let args = [
            OsString::from("-t"),
            OsString::from_vec(b"v\xff".to_vec()),
            OsString::from_vec(b"d\xfe".to_vec()),
        ];
        let mut g = Getopt::new(&args, "t:", &[]);
        let opt = g.next().unwrap().unwrap();
        assert_eq!(opt.value.unwrap().as_bytes(), b"v\xff");
        assert_eq!(g.next(), None);
        assert_eq!(g.operands()[0].as_bytes(), b"d\xfe");
    }

    #[test]
    fn unsigned_is_decimal_digits_consumed_whole() {
        let u = |s: &str| unsigned(Some(OsStr::new(s)));
        assert_eq!(u("0"), Ok(0));
        assert_eq!(u("007"), Ok(7));
        assert_eq!(u("4294967295"), Ok(u32::MAX));
        for bad in ["", "-5", "+5", "5s", " 5", "4294967296", "0x10"] {
            assert_eq!(u(bad), Err(Error::BadValue), "{bad:?}");
        }
        assert_eq!(unsigned(None), Err(Error::BadValue));
    }
}
