//! The wallet address in the user's GECOS field (`...,wallet=0x<40 hex>,...`), which the
//! host keeps in sync with the NFT owner; the guest never asks a chain.

use crate::hex;

pub type Address = [u8; 20];

pub fn wallet(gecos: &str) -> Result<Address, String> {
    let mut found: Option<Address> = None;
    for field in gecos.split(',') {
        let Some((key, value)) = field.split_once('=') else {
            continue;
        };
        if key.trim() != "wallet" {
            continue;
        }
        let value = value.trim().as_bytes();
        let mut address = [0u8; 20];
        let digits = hex::strip_0x(value);
        if digits.len() == value.len() || !hex::decode_into(digits, &mut address) {
            return Err("GECOS wallet is not 0x followed by 40 hex digits".into());
        }
        // Two different wallets would make the owner ambiguous.
        if found.is_some_and(|prev| prev != address) {
            return Err("GECOS has two different wallet fields".into());
        }
        found = Some(address);
    }
    found.ok_or_else(|| "GECOS has no wallet= field".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDR: &str = "f39fd6e51aad88f6f4ce6ab8827279cfffb92266";

    fn expected() -> Address {
        let mut a = [0u8; 20];
        assert!(hex::decode_into(ADDR.as_bytes(), &mut a));
        a
    }

    #[test]
    fn finds_wallet_in_any_position() {
        for gecos in [
            format!("wallet=0x{ADDR}"),
            format!("wallet=0x{ADDR},nft=7"),
            format!("nft=7,wallet=0x{ADDR}"),
            format!("Customer Name,nft=7,wallet=0x{ADDR},,"),
            format!(" nft=7 , wallet = 0x{ADDR} "),
            format!("wallet=0x{}", ADDR.to_uppercase()),
            format!("wallet=0X{ADDR}"),
            format!("wallet=0x{ADDR},wallet=0x{}", ADDR.to_uppercase()),
        ] {
            assert_eq!(wallet(&gecos), Ok(expected()), "{gecos}");
        }
    }

    #[test]
    fn refuses_missing_or_invalid() {
        for gecos in [
            String::new(),
            "nft=7".to_string(),
            "Some Name".to_string(),
            "wallets=0x00".to_string(),
            format!("wallet={ADDR}"),
            format!("wallet=0x{}", &ADDR[..38]),
            format!("wallet=0x{ADDR}00"),
            format!("wallet=0x{}g", &ADDR[..39]),
            "wallet=".to_string(),
            format!("wallet=0x{ADDR},wallet=0x{}", "1".repeat(40)),
        ] {
            assert!(wallet(&gecos).is_err(), "{gecos}");
        }
    }
}
