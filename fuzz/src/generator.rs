//! The seeded mutational generator: [`Rng`], [`Gen`] (mutates a corpus of
//! valid inputs, or makes bytes from nothing) and [`Reader`] (how a target
//! takes its choices out of the input bytes).

/// A small, fast, seeded random generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    /// 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability `1/n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
}

/// Byte strings that tend to find edges in JSON, HTTP and SigV4 code.
const TOKENS: &[&[u8]] = &[
    b"null",
    b"true",
    b"false",
    b"0",
    b"-0",
    b"1e309",
    b"-1e-400",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"1.5",
    b"\"\"",
    b"\"\\u0000\"",
    b"\"\\ud800\"",
    b"\"\\udc00\\ud800\"",
    b"\"\xff\xfe\"",
    b"[]",
    b"{}",
    b"[[[[[[[[[[[[[[[[",
    b"{\"a\":{\"a\":{\"a\":",
    b"\"eventList\"",
    b"\"properties\"",
    b"\"sentAt\"",
    b"\"2026-11-29T11:59:00Z\"",
    b"\"9999-12-31T23:59:59.999999999+14:00\"",
    b"\"impression\"",
    b"\"itemId\"",
    b"\"userId\"",
    b",",
    b":",
    b"\\",
    b"\"",
    b"\r\n",
    b"\r\n\r\n",
    b"Content-Length: 99999999999999999999\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Authorization: AWS4-HMAC-SHA256 Credential=/,SignedHeaders=;,Signature=\r\n",
    b"X-Amz-Date: 99991231T235959Z\r\n",
    b"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=0",
    b"%",
    b"%zz",
    b"\xc3\x28",
    b"\xf0\x9f\x98\x80",
    b"\x00",
    b"\x7f",
];

/// Mutates and makes inputs for one target, from a corpus of seeds.
#[derive(Debug, Clone)]
pub struct Gen {
    rng: Rng,
    corpus: Vec<Vec<u8>>,
    max_len: usize,
}

impl Gen {
    /// A generator over `corpus` (at least one seed), making inputs of at
    /// most `max_len` bytes.
    pub fn new(seed: u64, corpus: Vec<Vec<u8>>, max_len: usize) -> Self {
        let corpus = if corpus.is_empty() {
            vec![Vec::new()]
        } else {
            corpus
        };
        Gen {
            rng: Rng::new(seed),
            corpus,
            max_len: max_len.max(16),
        }
    }

    /// The random generator.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// The next input: usually a seed with 1 to 8 mutations, sometimes
    /// random bytes.
    pub fn next_input(&mut self) -> Vec<u8> {
        if self.rng.one_in(20) {
            let n = self.rng.below(self.max_len.min(512));
            return (0..n).map(|_| self.rng.next_u64() as u8).collect();
        }
        let mut data = self.corpus[self.rng.below(self.corpus.len())].clone();
        let rounds = 1 + self.rng.below(8);
        for _ in 0..rounds {
            self.mutate(&mut data);
        }
        data.truncate(self.max_len);
        data
    }

    /// One mutation, in place.
    pub fn mutate(&mut self, data: &mut Vec<u8>) {
        let len = data.len();
        let r = &mut self.rng;
        match r.below(10) {
            // Flip a bit.
            0 if len > 0 => {
                let i = r.below(len);
                data[i] ^= 1 << r.below(8);
            }
            // Set a byte to an interesting value.
            1 if len > 0 => {
                const B: &[u8] = b"\x00\x01\x7f\x80\xff\"\\{}[],:0-9eE.\r\n %+/=&?";
                let i = r.below(len);
                data[i] = B[r.below(B.len())];
            }
            // Delete a range.
            2 if len > 0 => {
                let i = r.below(len);
                let n = 1 + r.below((len - i).min(64));
                data.drain(i..i + n);
            }
            // Duplicate a range.
            3 if len > 0 => {
                let i = r.below(len);
                let n = 1 + r.below((len - i).min(256));
                let chunk = data[i..i + n].to_vec();
                let at = r.below(len + 1);
                data.splice(at..at, chunk);
            }
            // Insert random bytes.
            4 => {
                let at = r.below(len + 1);
                let n = 1 + r.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| r.next_u64() as u8).collect();
                data.splice(at..at, bytes);
            }
            // Splice in part of another seed.
            5 => {
                let other = &self.corpus[r.below(self.corpus.len())];
                if !other.is_empty() {
                    let i = r.below(other.len());
                    let n = 1 + r.below((other.len() - i).min(512));
                    let at = r.below(len + 1);
                    data.splice(at..at, other[i..i + n].iter().copied());
                }
            }
            // Truncate.
            6 if len > 0 => data.truncate(r.below(len)),
            // Replace an ASCII digit run with another number.
            7 => {
                if let Some(i) = (0..len)
                    .map(|k| (k + r.below(len.max(1))) % len.max(1))
                    .find(|&k| data.get(k).is_some_and(u8::is_ascii_digit))
                {
                    let num = TOKENS[3 + r.below(7)].to_vec();
                    data.splice(i..i + 1, num);
                }
            }
            // Repeat a range many times (deep nesting, long strings).
            8 if len > 0 => {
                let i = r.below(len);
                let n = 1 + r.below((len - i).min(8));
                let chunk = data[i..i + n].to_vec();
                let times = 1 + r.below(2000);
                let at = r.below(len + 1);
                let rep: Vec<u8> = chunk.iter().copied().cycle().take(n * times).collect();
                data.splice(at..at, rep);
            }
            // Insert a token.
            _ => {
                let t = TOKENS[r.below(TOKENS.len())];
                let at = r.below(len + 1);
                data.splice(at..at, t.iter().copied());
            }
        }
    }
}

/// Reads structure out of fuzz bytes, with defaults when they run out.
#[derive(Debug)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data }
    }
    /// One byte (0 when none is left).
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }
    /// Up to `n` bytes.
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (a, b) = self.data.split_at(n);
        self.data = b;
        a
    }
    /// A chunk whose length is given by the next byte.
    pub fn chunk(&mut self) -> &'a [u8] {
        let n = self.byte() as usize;
        self.take(n)
    }
    /// What is left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(usize::MAX)
    }
}
