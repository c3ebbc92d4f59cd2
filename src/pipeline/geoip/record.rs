//! The two shapes a City database's records come in, read into one [`Location`].
//!
//! MaxMind's GeoIP2/GeoLite2 City (and GeoIP2-compatible files such as DB-IP's own) nest the place:
//!
//! ```text
//! { "country": { "iso_code": "DE", "names": {…} }, "city": { "names": { "en": "Berlin", … } },
//!   "subdivisions": [ … ], "location": { "latitude": …, "longitude": … }, … }
//! ```
//!
//! The free ip-location-db files (`dbip-city-mmdb`, `geolite2-city-mmdb`) are flat:
//!
//! ```text
//! { "country_code": "DE", "city": "Berlin", "state1": "Berlin", "latitude": …, "longitude": … }
//! ```
//!
//! Their metadata does not say which shape they use (dbip-city-mmdb's `database_type` is
//! `"city ipv4"`), so each record is read by what its values are: `city` is a map in one schema and
//! a string in the other, and whichever country field is present is taken. Only the country and
//! the city are decoded, because they are what a scan event carries; every other field is skipped
//! without being allocated.

use std::fmt;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::Location;

/// One record of either schema.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct Record {
    /// GeoIP2: `country.iso_code`.
    country: Option<Country>,
    /// ip-location-db: `country_code`.
    country_code: Option<String>,
    /// GeoIP2: `city.names.en`; ip-location-db: `city`.
    city: Option<CityName>,
}

impl Record {
    pub(super) fn into_location(self) -> Location {
        let country = self
            .country
            .and_then(|c| c.iso_code)
            .or(self.country_code)
            .unwrap_or_default();
        Location {
            country,
            city: self.city.map(|c| c.0).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Country {
    iso_code: Option<String>,
}

/// GeoIP2's `city` map; only the English name is kept.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NestedCity {
    names: Names,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Names {
    en: Option<String>,
}

/// The English city name, from a GeoIP2 `city` map or a flat `city` string.
#[derive(Debug)]
struct CityName(String);

impl<'de> Deserialize<'de> for CityName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EitherShape;

        impl<'de> Visitor<'de> for EitherShape {
            type Value = CityName;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a city name or a GeoIP2 city map")
            }

            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<CityName, E> {
                Ok(CityName(name.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<CityName, A::Error> {
                let city = NestedCity::deserialize(MapAccessDeserializer::new(map))?;
                Ok(CityName(city.names.en.unwrap_or_default()))
            }
        }

        deserializer.deserialize_any(EitherShape)
    }
}
