//! The built-in instruments, embedded from `catalog/instruments/` and loaded
//! into the database when the service starts.

use diesel_async::{AsyncConnection, AsyncPgConnection};

use super::definition::InstrumentDefinition;
use super::store;

const BUILTIN: [(&str, &str); 2] = [
    ("interdependence_balance.json", include_str!("../../catalog/instruments/interdependence_balance.json")),
    ("attachment_lean_short_form.json", include_str!("../../catalog/instruments/attachment_lean_short_form.json")),
];

/// Parses and validates the built-in definitions.
pub fn builtin_instruments() -> anyhow::Result<Vec<InstrumentDefinition>> {
    BUILTIN
        .iter()
        .map(|(name, json)| {
            let definition: InstrumentDefinition =
                serde_json::from_str(json).map_err(|e| anyhow::anyhow!("catalog/instruments/{name}: {e}"))?;
            let errors = definition.validate();
            if let Some(first) = errors.first() {
                anyhow::bail!("catalog/instruments/{name}: {}: {}", first.field, first.message);
            }
            Ok(definition)
        })
        .collect()
}

/// Stores any built-in definition that is new or changed.
pub async fn load(database_url: &str) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(database_url).await?;
    for definition in builtin_instruments()? {
        store::ensure_builtin(&mut conn, &definition).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_instruments_are_valid_and_carry_no_norms() {
        let instruments = builtin_instruments().unwrap();
        assert_eq!(instruments.len(), 2);
        for instrument in &instruments {
            assert!(instrument.description.contains("screening and conversation aid"), "{}", instrument.key);
            for subscale in &instrument.subscales {
                assert!(subscale.norms.is_none(), "{} invents norms", instrument.key);
                let items: Vec<_> = instrument.items_of(&subscale.key).collect();
                assert!(items.len() >= 6, "{}.{} has too few items", instrument.key, subscale.key);
                assert!(items.iter().any(|i| i.reverse), "{}.{} has no reverse item", instrument.key, subscale.key);
            }
        }
    }
}
