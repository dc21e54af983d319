//! The account's custom authorizers as the doors and the API share them: the book behind a
//! lock, and the functions that decide. The API changes the book; the doors ask
//! [`Authorizers::decide`], which reads the book under the lock and invokes the function
//! without it.

use crate::book::AuthorizerBook;
use crate::decide::{Decision, Functions, Refusal, prepare};
use crate::presented::Presented;
use std::sync::{Arc, RwLock};

pub struct Authorizers {
    book: RwLock<AuthorizerBook>,
    functions: Arc<dyn Functions>,
}

impl Authorizers {
    /// Deletes every authorizer (iotmock's reset).
    pub fn reset(&self) -> Result<(), iotmock_store::StoreError> {
        self.book.write().unwrap_or_else(|p| p.into_inner()).reset()
    }

    pub fn new(book: AuthorizerBook, functions: Arc<dyn Functions>) -> Self {
        Self {
            book: RwLock::new(book),
            functions,
        }
    }

    /// Reads the book.
    pub fn read<T>(&self, f: impl FnOnce(&AuthorizerBook) -> T) -> T {
        f(&self.book.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Changes the book (each change is written before it returns).
    pub fn change<T>(&self, f: impl FnOnce(&mut AuthorizerBook) -> T) -> T {
        f(&mut self.book.write().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn functions(&self) -> &Arc<dyn Functions> {
        &self.functions
    }

    /// Decides a connection: the authorizer it names or the default, the token's signature,
    /// the function's answer.
    pub async fn decide(&self, region: &str, presented: &Presented) -> Result<Decision, Refusal> {
        let invocation = self.read(|b| prepare(b, region, presented))?;
        invocation.run(&*self.functions).await
    }
}
