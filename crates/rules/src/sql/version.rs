//! The `awsIotSqlVersion` of a rule: what the parser accepts and how decimals are written out.

/// A rule's SQL version. `beta` behaves as 2016-03-23.
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SqlVersion {
    /// `2015-10-08`, the API default.
    V2015_10_08,
    /// `2016-03-23`: literals, nested queries, `SELECT VALUE` arrays and newer functions.
    V2016_03_23,
    /// `beta`, treated as 2016-03-23.
    Beta,
}

impl SqlVersion {
    /// `None` gives 2015-10-08 (the API default); an unknown string is an error naming the
    /// accepted values.
    pub fn parse(s: Option<&str>) -> Result<SqlVersion, String> {
        match s {
            None | Some("2015-10-08") => Ok(SqlVersion::V2015_10_08),
            Some("2016-03-23") => Ok(SqlVersion::V2016_03_23),
            Some("beta") => Ok(SqlVersion::Beta),
            Some(other) => Err(format!(
                "Unsupported SQL version '{other}': expected one of 2015-10-08, 2016-03-23, beta"
            )),
        }
    }

    /// The version as AWS spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            SqlVersion::V2015_10_08 => "2015-10-08",
            SqlVersion::V2016_03_23 => "2016-03-23",
            SqlVersion::Beta => "beta",
        }
    }

    /// Whether this version has the 2016-03-23 features.
    pub fn is_2016(&self) -> bool {
        !matches!(self, SqlVersion::V2015_10_08)
    }
}

impl std::fmt::Display for SqlVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
