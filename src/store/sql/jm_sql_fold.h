/* The accent and separator folding of PostgreSQL's full text (the
 * 'simple' configuration keeps accents), in one place for the SQL that
 * folds query terms (translate(), jm_sql_pgsql.c) and for jm_sql_fold,
 * which folds a message's text in C before it is stored: translate() is
 * O(text x 493) with multibyte decoding, about 10 ms for 5 KB of text. */
#ifndef JM_SQL_FOLD_H
#define JM_SQL_FOLD_H

#include <apr_pools.h>

/* Accents are folded before text reaches to_tsvector or a tsquery (the
 * 'simple' configuration keeps them): the Latin letters whose canonical
 * decomposition starts with an ASCII letter (U+00C0-U+024F, U+1E00-U+1EFF)
 * become that letter, so "koln" finds "Köln" as FTS5's remove_diacritics
 * does on SQLite. translate() maps character i of FOLD_FROM to character i
 * of FOLD_TO (488 each). The separators inside addresses, host names,
 * paths and compounds (JM_SQL_FOLD_SEPARATORS) become spaces too: PostgreSQL's parser
 * would keep "carol@example.net" or "foo-bar" as one token where FTS5
 * sees words. */
#define FOLD_FROM \
    "ÀÁÂÃÄÅÇÈÉÊËÌÍÎÏÑÒÓÔÕÖÙÚÛÜÝàáâãäåçèéêëìíî" \
    "ïñòóôõöùúûüýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜ" \
    "ĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇňŌōŎŏŐő" \
    "ŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽ" \
    "žƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻ" \
    "ȀȁȂȃȄȅȆȇȈȉȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯ" \
    "ȰȱȲȳḀḁḂḃḄḅḆḇḈḉḊḋḌḍḎḏḐḑḒḓḔḕḖḗḘḙḚḛḜḝḞḟḠḡḢḣ" \
    "ḤḥḦḧḨḩḪḫḬḭḮḯḰḱḲḳḴḵḶḷḸḹḺḻḼḽḾḿṀṁṂṃṄṅṆṇṈṉṊṋ" \
    "ṌṍṎṏṐṑṒṓṔṕṖṗṘṙṚṛṜṝṞṟṠṡṢṣṤṥṦṧṨṩṪṫṬṭṮṯṰṱṲṳ" \
    "ṴṵṶṷṸṹṺṻṼṽṾṿẀẁẂẃẄẅẆẇẈẉẊẋẌẍẎẏẐẑẒẓẔẕẖẗẘẙẠạ" \
    "ẢảẤấẦầẨẩẪẫẬậẮắẰằẲẳẴẵẶặẸẹẺẻẼẽẾếỀềỂểỄễỆệỈỉ" \
    "ỊịỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợỤụỦủỨứỪừỬửỮữỰự" \
    "ỲỳỴỵỶỷỸỹ"
#define FOLD_TO \
    "aaaaaaceeeeiiiinooooouuuuyaaaaaaceeeeiii" \
    "inooooouuuuyyaaaaaaccccccccddeeeeeeeeeeg" \
    "ggggggghhiiiiiiiiijjkkllllllnnnnnnoooooo" \
    "rrrrrrssssssssttttuuuuuuuuuuuuwwyyyzzzzz" \
    "zoouuaaiioouuuuuuuuuuaaaaggkkoooojggnnaa" \
    "aaaaeeeeiiiioooorrrruuuusstthhaaeeoooooo" \
    "ooyyaabbbbbbccddddddddddeeeeeeeeeeffgghh" \
    "hhhhhhhhiiiikkkkkkllllllllmmmmmmnnnnnnnn" \
    "oooooooopppprrrrrrrrssssssssssttttttttuu" \
    "uuuuuuuuvvvvwwwwwwwwwwxxxxyyzzzzzzhtwyaa" \
    "aaaaaaaaaaaaaaaaaaaaaaeeeeeeeeeeeeeeeeii" \
    "iioooooooooooooooooooooooouuuuuuuuuuuuuu" \
    "yyyyyyyy"
#define JM_SQL_FOLD_SEPARATORS "@./:-"

/** s with every character of FOLD_FROM replaced by the one at the same
 *  place of FOLD_TO and JM_SQL_FOLD_SEPARATORS by spaces: what
 *  translate(s, FOLD_FROM || '@./:-', FOLD_TO || '     ') gives. Not
 *  lower-cased (SQL lower() follows the database's ctype). NULL stays NULL;
 *  s must be UTF-8 (other bytes are copied as they are). */
const char *jm_sql_fold(const char *s, apr_pool_t *p);

#endif
