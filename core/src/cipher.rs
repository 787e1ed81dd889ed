//! The block cipher of encrypted lines, behind a trait of our own so that harnesses can swap it.

use crate::key::SessionKey;

/// An 8-byte block cipher keyed by a [`SessionKey`], used in ECB mode by the `enc:` codec.
pub trait BlockCipher {
    /// Builds the cipher for one link's session key.
    fn from_key(key: &SessionKey) -> Self
    where
        Self: Sized;
    /// Encrypts one block in place.
    fn encrypt_block(&self, block: &mut [u8; 8]);
    /// Decrypts one block in place.
    fn decrypt_block(&self, block: &mut [u8; 8]);
}

/// IDEA, as Crypt::IDEA provides it to lond and LondConnection.
#[derive(Clone)]
pub struct IdeaCipher(idea::Idea);

impl BlockCipher for IdeaCipher {
    fn from_key(key: &SessionKey) -> Self {
        use idea::cipher::KeyInit;
        IdeaCipher(idea::Idea::new(&(*key.as_bytes()).into()))
    }

    fn encrypt_block(&self, block: &mut [u8; 8]) {
        use idea::cipher::BlockCipherEncrypt;
        let mut b = (*block).into();
        self.0.encrypt_block(&mut b);
        *block = b.into();
    }

    fn decrypt_block(&self, block: &mut [u8; 8]) {
        use idea::cipher::BlockCipherDecrypt;
        let mut b = (*block).into();
        self.0.decrypt_block(&mut b);
        *block = b.into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idea_classic_vector() {
        let key = SessionKey::from_bytes([0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
        let c = IdeaCipher::from_key(&key);
        let mut block = [0, 0, 0, 1, 0, 2, 0, 3];
        c.encrypt_block(&mut block);
        assert_eq!(block, [0x11, 0xfb, 0xed, 0x2b, 0x01, 0x98, 0x6d, 0xe5]);
        c.decrypt_block(&mut block);
        assert_eq!(block, [0, 0, 0, 1, 0, 2, 0, 3]);
    }
}
