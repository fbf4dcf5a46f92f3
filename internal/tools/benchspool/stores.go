package benchspool

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/cockroachdb/pebble"
	bolt "go.etcd.io/bbolt"
	_ "modernc.org/sqlite"
)

// queueStore is the part of a spool the benchmark measures: durable appends in
// order, reading the oldest entries, and deleting them once forwarded.
type queueStore interface {
	// Append stores payloads under the keys first, first+1, ... and returns once
	// they are durable.
	Append(first uint64, payloads [][]byte) error
	// Oldest returns up to n of the oldest entries, in key order.
	Oldest(n int) (keys []uint64, payloads [][]byte, err error)
	// Delete durably removes the keys from first to last, inclusive.
	Delete(first, last uint64) error
	Close() error
}

func key(seq uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	return b[:]
}

// boltStore keeps entries in one bucket keyed by big-endian sequence numbers;
// each Update transaction fsyncs on commit.
type boltStore struct{ db *bolt.DB }

var boltBucket = []byte("spool")

func openBolt(dir string) (*boltStore, error) {
	db, err := bolt.Open(filepath.Join(dir, "spool.bolt"), 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(boltBucket)
		return err
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &boltStore{db: db}, nil
}

func (s *boltStore) Append(first uint64, payloads [][]byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(boltBucket)
		b.FillPercent = 1 // keys only grow: fill pages completely
		for i, p := range payloads {
			if err := b.Put(key(first+uint64(i)), p); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *boltStore) Oldest(n int) (keys []uint64, payloads [][]byte, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(boltBucket).Cursor()
		for k, v := c.First(); k != nil && len(keys) < n; k, v = c.Next() {
			keys = append(keys, binary.BigEndian.Uint64(k))
			payloads = append(payloads, bytes.Clone(v))
		}
		return nil
	})
	return keys, payloads, err
}

func (s *boltStore) Delete(first, last uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(boltBucket).Cursor()
		for k, _ := c.Seek(key(first)); k != nil && binary.BigEndian.Uint64(k) <= last; k, _ = c.Seek(key(first)) {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *boltStore) Close() error { return s.db.Close() }

// pebbleStore keeps entries in an LSM tree; batches commit with pebble.Sync
// (the write-ahead log is fsynced).
type pebbleStore struct{ db *pebble.DB }

func openPebble(dir string) (*pebbleStore, error) {
	db, err := pebble.Open(filepath.Join(dir, "spool.pebble"), &pebble.Options{})
	if err != nil {
		return nil, err
	}
	return &pebbleStore{db: db}, nil
}

func (s *pebbleStore) Append(first uint64, payloads [][]byte) error {
	b := s.db.NewBatch()
	for i, p := range payloads {
		if err := b.Set(key(first+uint64(i)), p, nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.Sync)
}

func (s *pebbleStore) Oldest(n int) (keys []uint64, payloads [][]byte, err error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return nil, nil, err
	}
	for ok := it.First(); ok && len(keys) < n; ok = it.Next() {
		keys = append(keys, binary.BigEndian.Uint64(it.Key()))
		payloads = append(payloads, bytes.Clone(it.Value()))
	}
	return keys, payloads, errors.Join(it.Error(), it.Close())
}

func (s *pebbleStore) Delete(first, last uint64) error {
	return s.db.DeleteRange(key(first), key(last+1), pebble.Sync)
}

func (s *pebbleStore) Close() error { return s.db.Close() }

// sqliteStore keeps entries in a table with an integer primary key, in WAL
// mode with synchronous=FULL: every commit fsyncs the log.
type sqliteStore struct {
	db                   *sql.DB
	insert, oldest, drop *sql.Stmt
}

func openSQLite(dir string) (*sqliteStore, error) {
	dsn := "file:" + filepath.Join(dir, "spool.db") +
		"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(5000)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL)`); err != nil {
		db.Close()
		return nil, err
	}
	s := &sqliteStore{db: db}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.insert, `INSERT INTO spool (seq, payload) VALUES (?, ?)`},
		{&s.oldest, `SELECT seq, payload FROM spool ORDER BY seq LIMIT ?`},
		{&s.drop, `DELETE FROM spool WHERE seq BETWEEN ? AND ?`},
	} {
		if *p.stmt, err = db.Prepare(p.sql); err != nil {
			db.Close()
			return nil, fmt.Errorf("%s: %w", p.sql, err)
		}
	}
	return s, nil
}

func (s *sqliteStore) Append(first uint64, payloads [][]byte) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	st := tx.Stmt(s.insert)
	for i, p := range payloads {
		if _, err := st.Exec(int64(first)+int64(i), p); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

func (s *sqliteStore) Oldest(n int) (keys []uint64, payloads [][]byte, err error) {
	rows, err := s.oldest.Query(n)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k int64
		var p []byte
		if err := rows.Scan(&k, &p); err != nil {
			return nil, nil, err
		}
		keys = append(keys, uint64(k))
		payloads = append(payloads, p)
	}
	return keys, payloads, rows.Err()
}

func (s *sqliteStore) Delete(first, last uint64) error {
	_, err := s.drop.Exec(int64(first), int64(last))
	return err
}

func (s *sqliteStore) Close() error { return s.db.Close() }
