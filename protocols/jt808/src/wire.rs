//! Bounds-checked big-endian reading and GBK string helpers shared by the message codecs.

use bytes::{BufMut, BytesMut};

use crate::error::{BodyError, EncodeError};
use crate::time::BcdTime;

/// A cursor over a body that turns every shortfall into [`BodyError::Truncated`].
pub(crate) struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Reader<'a> {
        Reader { data }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len()
    }

    pub(crate) fn bytes(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], BodyError> {
        match self.data.split_at_checked(n) {
            Some((head, tail)) => {
                self.data = tail;
                Ok(head)
            }
            None => Err(BodyError::Truncated {
                field,
                need: n,
                have: self.data.len(),
            }),
        }
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], BodyError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N, field)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, BodyError> {
        self.array::<1>(field).map(|[b]| b)
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, BodyError> {
        self.array(field).map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, BodyError> {
        self.array(field).map(u32::from_be_bytes)
    }

    pub(crate) fn time(&mut self, field: &'static str) -> Result<BcdTime, BodyError> {
        self.array(field).map(BcdTime)
    }

    /// Everything not read yet.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// Decodes GBK text, dropping 0x00 padding at both ends (the standard pads right with 0x00,
/// some devices pad left). ASCII '0' padding is kept: ids may legitimately start with zeros.
pub(crate) fn gbk_decode(bytes: &[u8]) -> String {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    let end = bytes.iter().rposition(|&b| b != 0).map_or(start, |i| i + 1);
    let trimmed = bytes.get(start..end).unwrap_or_default();
    let (text, _, _) = encoding_rs::GBK.decode(trimmed);
    text.into_owned()
}

/// Encodes text as GBK; characters GBK lacks are an error rather than silently replaced.
pub(crate) fn gbk_encode<'t>(
    text: &'t str,
    field: &'static str,
) -> Result<std::borrow::Cow<'t, [u8]>, EncodeError> {
    let (bytes, _, had_errors) = encoding_rs::GBK.encode(text);
    if had_errors {
        Err(EncodeError::Unencodable { field })
    } else {
        Ok(bytes)
    }
}

/// Writes `text` as GBK right-padded with 0x00 to exactly `width` bytes.
pub(crate) fn put_fixed_str(
    out: &mut BytesMut,
    text: &str,
    width: usize,
    field: &'static str,
) -> Result<(), EncodeError> {
    let bytes = gbk_encode(text, field)?;
    if bytes.len() > width {
        return Err(EncodeError::FieldTooLong {
            field,
            len: bytes.len(),
            max: width,
        });
    }
    out.put_slice(&bytes);
    out.put_bytes(0, width - bytes.len());
    Ok(())
}

/// Writes `text` as GBK with no padding.
pub(crate) fn put_str(
    out: &mut BytesMut,
    text: &str,
    field: &'static str,
) -> Result<(), EncodeError> {
    out.put_slice(&gbk_encode(text, field)?);
    Ok(())
}

/// Checks a list length against its count field's maximum.
pub(crate) fn count_fits(count: usize, max: usize, field: &'static str) -> Result<(), EncodeError> {
    if count > max {
        Err(EncodeError::TooMany { field, count, max })
    } else {
        Ok(())
    }
}
